#!/bin/sh
# llmkit.wo on tiny random checkpoints of each family: float64 difference of
# means, saved weights == scored hook intervention (untied; tied without the
# embedding edit), filters and selection, no fallback; post-instruction and
# refusal tokens on the real tokenizer files (SKIP without the npm references).
cd "$(dirname "$0")/../.." && PYTHONDONTWRITEBYTECODE=1 exec /usr/bin/python3 tests/llm/test_wo.py
