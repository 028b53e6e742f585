#!/bin/sh
# llmkit/model.py's forward against llama.cpp (node-llama-cpp, prebuilt CPU) on
# tiny GGUF copies of llama / qwen2 / qwen3 checkpoints, with broken variants
# that must fail; SKIPs when the npm references cannot be installed.
cd "$(dirname "$0")/../.." || exit 1
exec /usr/bin/python3 tests/llm/test_model_llamacpp.py
