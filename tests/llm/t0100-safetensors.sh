#!/bin/sh
# llmkit safetensors tests (issue 16, checkpoint I/O): see tests/llm/test_safetensors.py.
exec /usr/bin/python3 "$(dirname "$0")/test_safetensors.py"
