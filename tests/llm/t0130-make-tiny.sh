#!/bin/sh
# llmkit make_tiny tests (issue 16, checkpoint I/O): see tests/llm/test_make_tiny.py.
exec /usr/bin/python3 "$(dirname "$0")/test_make_tiny.py"
