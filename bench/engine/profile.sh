#!/bin/sh
# bench/engine/profile.sh: where toyllm's training time goes, by kind of
# layer: perf samples one pretraining epoch (batch 8 x 48) with call graphs
# and each kernel's inclusive share is read off its public entry point in
# kernels.c, so the same script profiles older builds too. Needs perf
# (Debian: linux-perf). Not run by `make test`.
#   sh bench/engine/profile.sh [LAYERS DIM HEADS]   (default 2 64 4)
#   TOYLLM=path/to/toyllm THREADS=2 sh bench/engine/profile.sh 4 64 4
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
T=${TOYLLM:-$top/stages/bin/toyllm}
L=${1:-2} D=${2:-64} H=${3:-4}
command -v perf >/dev/null || { echo "profile.sh: perf is not installed (apt-get install linux-perf)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$T" world --seed 1 --out "$work/w"
perf record -q --call-graph dwarf,16384 -F 1999 -o "$work/perf.data" "$T" pretrain \
	--world "$work/w" --layers "$L" --dim "$D" --heads "$H" --epochs 1 --batch 8 --seq 48 \
	--threads "${THREADS:-1}" --no-checks --out "$work/p" 2>"$work/log" >/dev/null
sed -n 's/^toyllm pretrain: /# /p' "$work/log"
echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg)"
perf report -i "$work/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
	awk '
	/^ +[0-9.]+%/ {
		ch = $1; sub("%", "", ch)
		sym = $4
		if ($5 == "(inlined)") next
		if (!(sym in seen)) { seen[sym] = 1; pct[sym] = ch }
	}
	END {
		n = split("matmul forward:matmul_forward,matmul_forward_packed,matmul_pack;" \
			"matmul backward:matmul_backward;" \
			"attention:attention_forward,attention_backward;" \
			"softmax + cross-entropy:softmax_ce_forward,softmax_ce_backward;" \
			"layernorm:layernorm_forward,layernorm_backward;" \
			"GELU:gelu_forward,gelu_backward,gelu_forward_pool,gelu_backward_pool;" \
			"AdamW:gpt_update;" \
			"residual + embeddings:residual_forward,residual_backward,encoder_forward,encoder_backward", cats, ";")
		printf "%-36s %6s\n", "share of CPU samples", "%"
		acc = 0
		for (i = 1; i <= n; i++) {
			split(cats[i], kv, ":"); m = split(kv[2], fs, ",")
			s = 0
			for (j = 1; j <= m; j++) s += pct[fs[j]]
			printf "%-36s %6.1f\n", kv[1], s
			acc += s
		}
		tr = pct["train_run"]
		printf "%-36s %6.1f\n", "other training (zeroing, batching)", (tr - acc > 0 ? tr - acc : 0)
		printf "%-36s %6.1f\n", "outside training (data, init, save)", 100 - tr
	}'
