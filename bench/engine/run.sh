#!/bin/sh
# bench/engine/run.sh: training throughput (tokens per second: forward +
# backward + AdamW, batch 8 x 48) of toyllm against the same architecture in
# PyTorch on the CPU, for the six study sizes, same thread count. Reports
# tokens per wall second and per CPU second (user + sys of the process; on a
# shared machine the CPU figure is the stable one). Installs Debian's
# python3-torch when missing. Not run by `make test`.
#   sh bench/engine/run.sh              (THREADS=1 by default)
#   THREADS=2 SIZES="2 64 4" sh bench/engine/run.sh
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
THREADS=${THREADS:-1}
# Debian's python: python3-torch installs there, not into a pyenv python
PY=${PY:-/usr/bin/python3}
SIZES=${SIZES:-"1 32 2
2 32 2
1 64 4
2 64 4
3 64 4
4 64 4
4 128 4"}
if ! "$PY" -c 'import torch' 2>/dev/null; then
	SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
	echo "installing python3-torch ..." >&2
	$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-torch >/dev/null
fi
make -s engine >/dev/null
T=$top/stages/bin/toyllm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$T" world --seed 1 --out "$work/w"
V=$(wc -l <"$work/w/vocab.txt")
echo "# cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) x $(nproc), threads=$THREADS, batch 8 x 48, vocab $V"
echo "# torch $("$PY" -c 'import torch; print(torch.__version__)'), $(uptime | sed 's/.*load/load/')"
printf '%-12s %8s | %12s %12s | %12s %12s | %7s %7s\n' size params \
	toyllm_wall torch_wall toyllm_cpu torch_cpu r_wall r_cpu
echo "$SIZES" | while read -r L D H; do
	[ -n "$L" ] || continue
	rm -rf "$work/p"
	# one pass over the corpus, about 100 steps of 8 x 48
	/usr/bin/time -f "%U %S" -o "$work/cpu" "$T" pretrain --world "$work/w" --layers "$L" \
		--dim "$D" --heads "$H" --epochs 1 --batch 8 --seq 48 --threads "$THREADS" \
		--no-checks --out "$work/p" 2>"$work/log"
	line=$(grep 'toyllm pretrain' "$work/log")
	cw=$(echo "$line" | sed -n 's/.*s, \([0-9.]*\) tok\/s.*/\1/p')
	pos=$(echo "$line" | sed -n 's/.* \([0-9]*\) positions.*/\1/p')
	steps=$(echo "$line" | sed -n 's/.*: \([0-9]*\) steps.*/\1/p')
	cc=$(awk -v p="$pos" '{printf "%.1f", p / ($1 + $2)}' "$work/cpu")
	params=$("$T" info --model "$work/p" | sed -n 's/.*"parameters": \([0-9]*\).*/\1/p')
	set -- $("$PY" bench/engine/torch_gpt.py "$L" "$D" "$H" "$V" 48 8 "$THREADS" "$steps")
	tw=$1 tc=$2
	printf '%-12s %8s | %12s %12s | %12s %12s | %7s %7s\n' "L$L-D$D-H$H" "$params" \
		"$cw" "$tw" "$cc" "$tc" "$(echo "scale=2; $cw / $tw" | bc)" \
		"$(echo "scale=2; $cc / $tc" | bc)"
done
