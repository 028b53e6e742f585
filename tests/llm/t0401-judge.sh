#!/bin/sh
# llmkit.judge: refusal / compliant / other labels and Wilson intervals.
cd "$(dirname "$0")/../.." && PYTHONDONTWRITEBYTECODE=1 exec /usr/bin/python3 tests/llm/test_judge.py
