#!/bin/sh
# t0300-isa-determinism: the engine's arithmetic gives the same bytes whatever
# runs it (docs/engine.md "The arithmetic"). A tiny pretraining run and a
# fine-tuning run on it (head size 8, sequence 24, vocabulary 232: partial
# vectors and padded rows everywhere) must write byte-identical model.bin
#   - for 1, 2 and 3 threads;
#   - for each kernel build the CPU runs (TOYLLM_KERNELS=portable, x86-64-v3,
#     x86-64-v4);
#   - for the engine built for baseline x86-64 (portable kernels, fmaf in
#     libm) and for x86-64-v3 (build/isa/*, `make engine-isa`; its portable
#     kernels compiled with hardware FMA and AVX2 auto-vectorisation).
# Also: an unknown TOYLLM_KERNELS is a usage error.
# Env: TOY_BIN_DIR (absolute stage bin dir of this build flavour).
set -u
T="${TOY_BIN_DIR:?TOY_BIN_DIR not set}/toyllm"
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok - $1"; }
no() { echo "not ok - $1"; fails=$((fails + 1)); }

SIZES="--things 12 --dishes 12 --hazards 12 --cyber 12 --unknowns 12 --triples 12 --jt-size 20"
P="--layers 2 --dim 24 --heads 3 --seq 24 --batch 4 --epochs 0.2 --seed 9 --no-checks"
if ! "$T" world --seed 3 --out "$tmp/w" $SIZES >/dev/null 2>&1; then
	no "world for the determinism runs"
	echo "# t0300: $fails failed"
	exit 1
fi

# train NAME BINARY THREADS KERNELS: pretrain, then jt on it (KERNELS "" = default)
train() {
	name=$1 bin=$2 th=$3 k=$4
	rm -rf "$tmp/$name"
	mkdir -p "$tmp/$name"
	TOYLLM_KERNELS=$k "$bin" pretrain --world "$tmp/w" $P --threads "$th" --out "$tmp/$name/p" \
		>/dev/null 2>"$tmp/$name/err" &&
		TOYLLM_KERNELS=$k "$bin" jt --model "$tmp/$name/p" --world "$tmp/w" --size 20 \
			--epochs 1 --threads "$th" --out "$tmp/$name/j" >/dev/null 2>>"$tmp/$name/err"
}

# same NAME DESCRIPTION: both models of run NAME equal the reference run's
same() {
	if cmp -s "$tmp/ref/p/model.bin" "$tmp/$1/p/model.bin" &&
		cmp -s "$tmp/ref/j/model.bin" "$tmp/$1/j/model.bin"; then
		ok "$2: same model bytes"
	else
		no "$2: same model bytes"
	fi
}

if train ref "$T" 1 ""; then
	ok "reference run ($(sed -n 's/.*kernels \(.*\)/\1/p' "$tmp/ref/err" | head -n 1), 1 thread)"
else
	no "reference run: $(head -c 300 "$tmp/ref/err")"
fi
# the model really trained (so equal bytes are not two untouched inits)
grep -q '"train_loss"' "$tmp/ref/p/metrics.json" 2>/dev/null && ok "reference pretrain wrote metrics" ||
	no "reference pretrain wrote metrics"

for n in 2 3; do
	if train "threads$n" "$T" "$n" ""; then
		same "threads$n" "$n threads"
	else
		no "$n threads: run failed: $(head -c 300 "$tmp/threads$n/err")"
	fi
done

for k in portable x86-64-v3 x86-64-v4; do
	if train "k-$k" "$T" 2 "$k"; then
		same "k-$k" "TOYLLM_KERNELS=$k"
	elif grep -q "cannot run it" "$tmp/k-$k/err"; then
		ok "TOYLLM_KERNELS=$k # SKIP this CPU or build cannot run it"
	else
		no "TOYLLM_KERNELS=$k: run failed: $(head -c 300 "$tmp/k-$k/err")"
	fi
done

for b in x86-64:portable x86-64-v3: x86-64-v3:portable; do
	lvl=${b%%:*} k=${b#*:}
	bin="$top/build/isa/$lvl/bin/toyllm"
	d="engine built with -march=$lvl${k:+, TOYLLM_KERNELS=$k}"
	if [ ! -x "$bin" ]; then
		ok "$d # SKIP $bin missing (make engine-isa)"
	elif train "isa-$lvl-$k" "$bin" 1 "$k"; then
		same "isa-$lvl-$k" "$d"
	else
		no "$d: run failed: $(head -c 300 "$tmp/isa-$lvl-$k/err")"
	fi
done

TOYLLM_KERNELS=avx9 "$T" info --model "$tmp/ref/p" >/dev/null 2>"$tmp/bad"
rc=$?
[ "$rc" -eq 2 ] && ok "unknown TOYLLM_KERNELS exits 2" || no "unknown TOYLLM_KERNELS exits 2 (got $rc)"
msg="toyllm: error: TOYLLM_KERNELS='avx9' is not one of portable, x86-64-v3, x86-64-v4"
[ "$(cat "$tmp/bad")" = "$msg" ] && ok "unknown TOYLLM_KERNELS message" ||
	no "unknown TOYLLM_KERNELS message: got '$(cat "$tmp/bad")'"

echo "# t0300: $fails failed"
[ "$fails" -eq 0 ]
