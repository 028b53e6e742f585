#!/bin/sh
# The real-model kit against Hugging Face transformers / safetensors /
# tokenizers on the GPU machine (H200, torch 2.x + CUDA, no network): builds
# the tiny checkpoints of tests/llm/device/tinyset.py with the kit's own code,
# compares loader, forward logits (fp32 CPU and CUDA, bf16 CUDA), greedy
# generation, WO (saved checkpoint in transformers vs our hook ablation),
# tokenizer ids and apply_chat_template renders, and writes small golden
# JSON files to $OUT/golden/ (commit them to tests/llm/golden/; the CPU test
# tests/llm/t0403-golden.sh then checks against them) and $OUT/summary.json.
# Real tokenizer files are compared too when $TOKREFS names a directory of
# <name>/tokenizer.json (+ tokenizer_config.json), e.g. the npm copies
# carried in the working tree.
#   usage: OUT=/some/dir sh tests/llm/device/check.sh [--no-hf]
# Python: $LLM_PYTHON, else /opt/torch/.venv/bin/python3, else python3 (the
# first that imports torch). Must finish in under 5 minutes (timeout 280 s).
# Exit status: 0 all within tolerance, 1 a comparison failed, 2 set-up error.
set -u
cd "$(dirname "$0")/../../.." || exit 2
OUT=${OUT:-$(mktemp -d /tmp/llm-check.XXXXXX)}
mkdir -p "$OUT" || exit 2
PY=
for p in "${LLM_PYTHON:-}" /opt/torch/.venv/bin/python3 python3 /usr/bin/python3; do
	[ -n "$p" ] || continue
	if "$p" -c "import torch" >/dev/null 2>&1; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "check.sh: no python3 with torch found" >&2; exit 2; }
echo "check.sh: $PY, OUT=$OUT"
"$PY" -c "import torch, sys; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'python', sys.version.split()[0])"
export PYTHONDONTWRITEBYTECODE=1 STUDY_THREADS=${STUDY_THREADS:-4} HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
timeout 280 "$PY" tests/llm/device/check.py --out "$OUT" "$@" 2>&1 | tee "$OUT/check.log"
rc=$?
# tee hides the status; read it from the log's last line
grep -q "^check.py: 0 failures" "$OUT/check.log" && exit 0
exit 1
