#!/bin/sh
# tokenizer.py against @huggingface/tokenizers on the real Llama-3.1 and Qwen3
# files: ids, decode and round trips on >= 2,000 strings per family.
cd "$(dirname "$0")/../.." && exec /usr/bin/python3 tests/llm/test_tokenizer.py
