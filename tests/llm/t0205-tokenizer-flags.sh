#!/bin/sh
# tokenizer.py: added-token flags (lstrip/rstrip/normalized against
# @huggingface/tokenizers, single_word), unknown ids, errors for bad files.
cd "$(dirname "$0")/../.." && exec /usr/bin/python3 tests/llm/test_tokenizer_flags.py
