#!/bin/sh
# llmkit/gguf.py read back without llama.cpp: metadata, tensor layout (llama's
# q/k permutation), rope_freqs vs model.py's llama3 scaling, tokenizer arrays.
cd "$(dirname "$0")/../.." || exit 1
exec /usr/bin/python3 tests/llm/test_gguf.py
