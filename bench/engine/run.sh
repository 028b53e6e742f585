#!/bin/sh
# bench/engine/run.sh: training throughput (tokens per second: forward +
# backward + AdamW, batch 8 x 48) of toyllm against the same architecture in
# PyTorch on the CPU, for the study sizes, at each thread count in THREADS.
#
# Fair by construction: PyTorch runs on an optimised BLAS (Debian's
# libopenblas0-pthread, installed with python3-torch when missing), every
# library is pinned to the same thread count as toyllm (OPENBLAS_NUM_THREADS,
# OMP_NUM_THREADS, MKL_NUM_THREADS, torch.set_num_threads), the BLAS in use is
# printed, and no ratio is reported when torch_gpt.py finds the peer
# misconfigured (reference BLAS, other thread counts): the script stops.
# With more than one thread PyTorch's OpenMP threads wait passively
# (OMP_WAIT_POLICY=PASSIVE; set TORCH_WAIT_POLICY to change it): spinning
# waiters collapse its throughput on a shared machine.
#
# Each size is measured REPEAT times, toyllm and PyTorch interleaved, and the
# medians are printed: tokens per wall second and per CPU second (all threads;
# the stable figure on a shared machine), the ratios, the load average, and
# toyllm's model GFLOP/s per CPU second against the core's measured FMA peak
# (peak.c). Model FLOPs per token: 3 x (L (24 C^2 + 2 C (T+1)) + 2 C V), the
# matrix products of forward and backward only. Not run by `make test`.
#   sh bench/engine/run.sh                      (THREADS="1 2", REPEAT=3)
#   THREADS=1 REPEAT=1 SIZES="2 64 4" sh bench/engine/run.sh
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
THREADS=${THREADS:-"1 2"}
REPEAT=${REPEAT:-3}
# Debian's python: python3-torch installs there, not into a pyenv python
PY=${PY:-/usr/bin/python3}
SIZES=${SIZES:-"1 32 2
2 32 2
1 64 4
2 64 4
3 64 4
4 64 4
4 128 4"}
T=${TOYLLM:-$top/stages/bin/toyllm}

missing=
"$PY" -c 'import torch' 2>/dev/null || missing="python3-torch"
dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q 'ok installed' ||
	missing="$missing libopenblas0-pthread"
if [ -n "$missing" ]; then
	SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
	echo "installing$missing ..." >&2
	$SUDO apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
[ -n "${TOYLLM:-}" ] || make -s engine >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
${CC:-cc} -O2 -o "$work/peak" bench/engine/peak.c
set -- $("$work/peak")
PEAK=$2
"$T" world --seed 1 --out "$work/w"
V=$(wc -l <"$work/w/vocab.txt")
med() { sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "# cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) x $(nproc), batch 8 x 48, vocab $V, median of $REPEAT"
echo "# core FMA peak (bench/engine/peak.c, 1 thread, CPU time): $PEAK GFLOP/s (AVX-512 $3, AVX2 $4)"
for th in $THREADS; do
	export OPENBLAS_NUM_THREADS=$th OMP_NUM_THREADS=$th MKL_NUM_THREADS=$th
	if [ "$th" -gt 1 ]; then export OMP_WAIT_POLICY=${TORCH_WAIT_POLICY:-PASSIVE}; else unset OMP_WAIT_POLICY; fi
	# the peer's configuration, checked before anything is measured
	if ! peer=$("$PY" bench/engine/torch_gpt.py 1 32 2 "$V" 48 8 "$th" 0); then
		echo "$peer"
		echo "run.sh: refusing to compare: the PyTorch peer is not configured (above)" >&2
		exit 1
	fi
	echo "# threads=$th: $peer OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-default}"
	: >"$work/ratios-$th"
	printf '%-12s %8s | %9s %9s | %9s %9s | %6s %6s | %6s %5s | %5s\n' size params \
		toy_wall torch_wall toy_cpu torch_cpu r_wall r_cpu GF/s %peak load
	echo "$SIZES" | while read -r L D H; do
		[ -n "$L" ] || continue
		: >"$work/m"
		i=0
		while [ "$i" -lt "$REPEAT" ]; do
			rm -rf "$work/p"
			# one pass over the corpus, about 120 steps of 8 x 48
			"$T" pretrain --world "$work/w" --layers "$L" --dim "$D" --heads "$H" --epochs 1 \
				--batch 8 --seq 48 --threads "$th" --no-checks --out "$work/p" 2>"$work/log"
			line=$(grep 'toyllm pretrain' "$work/log")
			tw=$(echo "$line" | sed -n 's/.* s, \([0-9.]*\) tok\/s.*/\1/p')
			tc=$(echo "$line" | sed -n 's/.* \([0-9.]*\) tok\/cpu-s.*/\1/p')
			steps=$(echo "$line" | sed -n 's/.*: \([0-9]*\) steps.*/\1/p')
			set -- $("$PY" bench/engine/torch_gpt.py "$L" "$D" "$H" "$V" 48 8 "$th" "$steps" 1 |
				sed -n 's/^run //p')
			echo "$tw $1 $tc $2 $(cut -d' ' -f1 /proc/loadavg)" >>"$work/m"
			echo "$line" | sed -n 's/.*kernels \(.*\)/\1/p' >"$work/kernels"
			i=$((i + 1))
		done
		params=$("$T" info --model "$work/p" | sed -n 's/.*"parameters": \([0-9]*\).*/\1/p')
		col() { cut -d' ' -f"$1" "$work/m" | med; }
		a=$(col 1) b=$(col 2) c=$(col 3) d=$(col 4) load=$(col 5)
		fl=$(awk -v L="$L" -v C="$D" -v V="$V" 'BEGIN {print 3 * (L * (24 * C * C + 2 * C * 49) + 2 * C * V)}')
		# the six study sizes count for the 2x target; other rows are extra
		case "L$L-D$D-H$H" in L[12]-D32-H2 | L[1234]-D64-H4) study=1 ;; *) study=0 ;; esac
		awk -v n="L$L-D$D-H$H" -v s="$study" -v a="$a" -v b="$b" -v c="$c" -v d="$d" \
			'BEGIN {print n, s, a / b, c / d}' >>"$work/ratios-$th"
		printf '%-12s %8s | %9.0f %9.0f | %9.0f %9.0f | %6.2f %6.2f | %6.1f %5.1f | %5s\n' \
			"L$L-D$D-H$H" "$params" "$a" "$b" "$c" "$d" \
			"$(awk -v x="$a" -v y="$b" 'BEGIN {print x / y}')" \
			"$(awk -v x="$c" -v y="$d" 'BEGIN {print x / y}')" \
			"$(awk -v x="$c" -v f="$fl" 'BEGIN {print x * f / 1e9}')" \
			"$(awk -v x="$c" -v f="$fl" -v p="$PEAK" 'BEGIN {print (p > 0) ? 100 * x * f / 1e9 / p : 0}')" \
			"$load"
	done
	awk -v th="$th" '$2 == 1 {
			n++; if ($4 >= 2) okc++; if ($3 >= 2) okw++
			if (!mc || $4 < mc) { mc = $4; mcn = $1 }
			if (!mw || $3 < mw) { mw = $3; mwn = $1 }
		}
		END {
			if (!n) { printf "# threads=%s: no study size measured, no target line\n", th; exit }
			printf "# threads=%s, target 2x PyTorch at the %d study sizes: per CPU second %d/%d (lowest %.2f, %s), per wall second %d/%d (lowest %.2f, %s)\n", \
				th, n, okc, n, mc, mcn, okw, n, mw, mwn
			if (okc < n || okw < n)
				print "#   below 2x: see docs/engine.md, \"On the misses\" (where the time goes: sh bench/engine/profile.sh L D H)"
		}' "$work/ratios-$th"
done
echo "# toyllm kernels: $(cat "$work/kernels") (TOYLLM_KERNELS; all builds compute the same bits)"
