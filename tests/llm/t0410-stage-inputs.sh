#!/bin/sh
# The kit's stages on bad input and the trial-16 findings (exact messages, status 2, nothing written).
cd "$(dirname "$0")/../.." && PYTHONDONTWRITEBYTECODE=1 exec /usr/bin/python3 tests/llm/test_stage_inputs.py
