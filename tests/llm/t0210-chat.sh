#!/bin/sh
# chat.py against @huggingface/jinja on the real Llama-3.1 and Qwen3 chat
# templates (multi-turn, thinking settings, tools), and the rendered prompts'
# token ids against @huggingface/tokenizers.
cd "$(dirname "$0")/../.." && exec /usr/bin/python3 tests/llm/test_chat.py
