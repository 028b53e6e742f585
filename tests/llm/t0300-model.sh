#!/bin/sh
# llmkit/model.py invariants on tiny random checkpoints of llama, qwen2, qwen3:
# KV cache, left padding, hooks (capture, ablation == orthogonalized weights,
# addition), generation over all prompts, greedy/seeded sampling.
cd "$(dirname "$0")/../.." || exit 1
exec /usr/bin/python3 tests/llm/test_model.py
