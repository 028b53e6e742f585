#!/bin/sh
# llmkit config tests (issue 16, checkpoint I/O): see tests/llm/test_config.py.
exec /usr/bin/python3 "$(dirname "$0")/test_config.py"
