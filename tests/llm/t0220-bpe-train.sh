#!/bin/sh
# bpe_train.py: tiny tokenizers in the llama/qwen2/qwen3 formats agree with
# @huggingface/tokenizers and render their chat template like the real ones.
cd "$(dirname "$0")/../.." && exec /usr/bin/python3 tests/llm/test_bpe_train.py
