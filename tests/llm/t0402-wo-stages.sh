#!/bin/sh
# wo.py (checkpoint and recipe outputs, no admissible direction),
# eval_refusal.py and llmkit.train on a tiny llama checkpoint with a
# bpe_train tokenizer.
cd "$(dirname "$0")/../.." && PYTHONDONTWRITEBYTECODE=1 exec /usr/bin/python3 tests/llm/test_wo_stages.py
