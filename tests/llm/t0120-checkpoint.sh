#!/bin/sh
# llmkit checkpoint tests (issue 16, checkpoint I/O): see tests/llm/test_checkpoint.py.
exec /usr/bin/python3 "$(dirname "$0")/test_checkpoint.py"
