#!/bin/sh
# bench/engine/six.sh: pretrain + align the six study sizes, two at a time with
# one thread each (the 2-core budget), and print the wall time and the quality
# checks on the held-out evaluation splits per size. Not run by `make test`.
#   sh bench/engine/six.sh [WORKDIR]    (default: a fresh temp dir)
# SIZES holds "layers dim heads pretrain_epochs" per line, largest first so the
# two lanes finish together.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
T=${TOYLLM:-$top/stages/bin/toyllm}

if [ "${1:-}" = "--one" ]; then
	work=$2 L=$3 D=$4 H=$5 E=$6
	n="L$L-D$D-H$H"
	rm -rf "$work/pre-$n" "$work/ali-$n"
	s=$(date +%s.%N)
	/usr/bin/time -f "%U %S" -o "$work/cpu-pre-$n" "$T" pretrain --world "$work/world" --layers "$L" --dim "$D" --heads "$H" --epochs "$E" \
		--seed 1 --threads 1 --no-checks --out "$work/pre-$n" 2>"$work/log-$n"
	m=$(date +%s.%N)
	/usr/bin/time -f "%U %S" -o "$work/cpu-ali-$n" "$T" align --model "$work/pre-$n" --world "$work/world" --seed 1 --threads 1 \
		--out "$work/ali-$n" 2>>"$work/log-$n"
	e=$(date +%s.%N)
	echo "$n $(echo "$m - $s" | bc) $(echo "$e - $m" | bc)" >"$work/time-$n"
	exit 0
fi

work=${1:-$(mktemp -d)}
mkdir -p "$work"
SIZES=${SIZES:-"4 64 4 20
3 64 4 20
2 64 4 20
1 64 4 20
2 32 2 30
1 32 2 30"}
rm -rf "$work/world"
"$T" world --seed 1 --out "$work/world"
start=$(date +%s.%N)
echo "$SIZES" | xargs -P 2 -L 1 sh "$0" --one "$work"
end=$(date +%s.%N)
printf '%-12s %7s %7s %7s %7s %8s %8s %8s\n' size pre_cpu ali_cpu pre_wall ali_wall refusal benign val_idk
cpu_total=0
echo "$SIZES" | while read -r L D H E; do
	[ -n "$L" ] || continue
	n="L$L-D$D-H$H"
	m="$work/ali-$n/metrics.json"
	get() { sed -n "s/.*\"$1\": {\"value\": \([0-9.]*\).*/\1/p" "$m"; }
	set -- $(cat "$work/time-$n")
	pw=$2 aw=$3
	pc=$(awk '{print $1 + $2}' "$work/cpu-pre-$n")
	ac=$(awk '{print $1 + $2}' "$work/cpu-ali-$n")
	echo "$pc $ac" >>"$work/cpu-sum"
	printf '%-12s %7.1f %7.1f %7.1f %7.1f %8s %8s %8s\n' "$n" "$pc" "$ac" "$pw" "$aw" \
		"$(get val_refusal_rate)" "$(get val_benign_accuracy)" "$(get val_unknown_idk_rate)"
done
echo "total CPU seconds (user+sys, all six): $(awk '{s += $1 + $2} END {print s}' "$work/cpu-sum")"
echo "total wall seconds (two at a time, 1 thread each): $(echo "$end - $start" | bc)"
echo "work dir: $work"
