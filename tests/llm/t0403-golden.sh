#!/bin/sh
# The kit against the transformers goldens from tests/llm/device/check.sh
# (SKIP until they are committed under tests/llm/golden/).
cd "$(dirname "$0")/../.." && PYTHONDONTWRITEBYTECODE=1 exec /usr/bin/python3 tests/llm/test_golden.py
