#!/bin/sh
# t0100-toyllm-cli: drives stages/bin/toyllm end to end on a tiny world:
# help and usage errors, world, pretrain (threads 1 and 2 byte-identical,
# progress lines on $STUDY_PROGRESS_FD), info, align, model (byte-identical to
# pretrain then align), generate, and the rejection (exit 2) of corrupt or
# mismatched inputs.
# Env: TOY_BIN_DIR (absolute stage bin dir of this build flavour).
set -u
T="${TOY_BIN_DIR:?TOY_BIN_DIR not set}/toyllm"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok - $1"; }
no() { echo "not ok - $1"; fails=$((fails + 1)); }
check() { # check DESCRIPTION command...
	d=$1; shift
	if "$@" >/dev/null 2>&1; then ok "$d"; else no "$d"; fi
}
expect_exit() { # expect_exit CODE DESCRIPTION command...
	c=$1 d=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq "$c" ]; then ok "$d (exit $rc)"; else no "$d (exit $rc, wanted $c: $(head -c 200 "$tmp/err"))"; fi
}

check "toyllm --help exits 0" "$T" --help
for c in world pretrain align model generate info; do
	check "toyllm $c --help exits 0" "$T" "$c" --help
done
expect_exit 2 "unknown subcommand is a usage error" "$T" frobnicate
expect_exit 2 "unknown option is a usage error" "$T" world --out "$tmp/x" --bogus 1
grep -q "toyllm world: error: unknown option '--bogus'" "$tmp/err" && ok "usage error names the option" || no "usage error names the option"
expect_exit 2 "missing --out is a usage error" "$T" world --seed 1
expect_exit 2 "bad STUDY_THREADS is a usage error" env STUDY_THREADS=abc "$T" pretrain --world "$tmp/w" --out "$tmp/p"

SIZES="--things 12 --dishes 12 --hazards 12 --cyber 12 --unknowns 12 --triples 12 --jt-size 20"
expect_exit 0 "world writes a tiny world" "$T" world --seed 3 --out "$tmp/w" $SIZES
for f in vocab.txt corpus.txt align_train.jsonl eval_refusal.jsonl eval_benign.jsonl manifest.json world.json; do
	[ -s "$tmp/w/$f" ] && ok "world wrote $f" || no "world wrote $f"
done
ls -a "$tmp/w" | grep -q '\.tmp$' && no "no temp files left in --out" || ok "no temp files left in --out"
expect_exit 0 "world with seed 4" "$T" world --seed 4 --out "$tmp/w4" $SIZES
cmp -s "$tmp/w/manifest.json" "$tmp/w4/manifest.json" && no "other seed, other manifest" || ok "other seed, other manifest"

P="--layers 1 --dim 16 --heads 2 --seq 32 --epochs 1 --seed 9 --no-checks"
expect_exit 0 "pretrain with 1 thread" env STUDY_PROGRESS_FD=3 "$T" pretrain --world "$tmp/w" --out "$tmp/p1" $P --threads 1 3>"$tmp/progress"
expect_exit 0 "pretrain with 2 threads (STUDY_THREADS)" env STUDY_THREADS=2 "$T" pretrain --world "$tmp/w" --out "$tmp/p2" $P
cmp -s "$tmp/p1/model.bin" "$tmp/p2/model.bin" && ok "model.bin byte-identical for 1 and 2 threads" || no "model.bin byte-identical for 1 and 2 threads"
cmp -s "$tmp/p1/metrics.json" "$tmp/p2/metrics.json" && ok "metrics.json byte-identical for 1 and 2 threads" || no "metrics.json byte-identical for 1 and 2 threads"
grep -Eq '^progress (0|1)\.[0-9]+ pretrain' "$tmp/progress" && ok "progress lines on STUDY_PROGRESS_FD ($(wc -l <"$tmp/progress") lines)" || no "progress lines on STUDY_PROGRESS_FD"
tail -n 1 "$tmp/progress" | grep -q '^progress 1.0000' && ok "last progress line is 1.0" || no "last progress line is 1.0"
grep -q '"train_loss": {"value": ' "$tmp/p1/metrics.json" && ok "pretrain metrics.json has train_loss" || no "pretrain metrics.json has train_loss"

expect_exit 0 "info reads the model" "$T" info --model "$tmp/p1"
grep -q '"layers": 1, "dim": 16, "heads": 2' "$tmp/out" && ok "info prints the config" || no "info prints the config"

expect_exit 0 "align the tiny model" "$T" align --model "$tmp/p1" --world "$tmp/w" --out "$tmp/a" --epochs 1 --mix 0.5 --seed 2
for k in val_refusal_rate val_benign_accuracy val_unknown_idk_rate; do
	grep -q "\"$k\": {\"value\": [0-9.]*, \"n\": [0-9]*, \"k\": [0-9]*, \"ci_low\"" "$tmp/a/metrics.json" && ok "align metrics.json has $k with n and interval" || no "align metrics.json has $k"
done
grep -q '"eval_' "$tmp/a/metrics.json" && no "align reads no evaluation split (metrics.json has eval_*)" ||
	ok "align reads no evaluation split (no eval_* metric)"
# `toyllm model` = `pretrain --out OUT/pretrain && align --model OUT/pretrain --out OUT`, same bytes
M="--layers 1 --dim 16 --heads 2 --seq 32 --no-checks"
expect_exit 0 "pretrain then align, as two commands" sh -c 'mkdir "$3" && "$1" pretrain --world "$2" --out "$3/pretrain" $4 --epochs 1 &&
	"$1" align --model "$3/pretrain" --world "$2" --epochs 1 --out "$3"' - "$T" "$tmp/w" "$tmp/two" "$M"
expect_exit 0 "model does both in one process" env STUDY_PROGRESS_FD=3 "$T" model --world "$tmp/w" $M \
	--pretrain-epochs 1 --align-epochs 1 --out "$tmp/one" 3>"$tmp/mprogress"
diff -r "$tmp/two" "$tmp/one" >/dev/null 2>&1 && ok "model's output tree is byte-identical to pretrain && align" ||
	no "model's output tree is byte-identical to pretrain && align: $(diff -rq "$tmp/two" "$tmp/one" | head -n 3)"
[ "$(find "$tmp/one" -type f | wc -l)" -eq 6 ] && ok "model wrote model.bin, vocab.txt, metrics.json and pretrain/ (6 files)" ||
	no "model wrote 6 files: $(find "$tmp/one" -type f)"
awk '$2 + 0 < last + 0 { bad = 1 } { last = $2 } END { exit bad }' "$tmp/mprogress" &&
	grep -q '^progress 0.5000 pretrain done' "$tmp/mprogress" && tail -n 1 "$tmp/mprogress" | grep -q '^progress 1.0000 align done' &&
	ok "model's progress rises once: pretrain to 0.5, align to 1.0" || no "model's progress: $(cat "$tmp/mprogress")"
expect_exit 2 "model without --world is a usage error" "$T" model --out "$tmp/m2"
grep -q "toyllm model: error: --world DIR is required" "$tmp/err" && ok "the message names --world" || no "the message names --world: $(cat "$tmp/err")"
expect_exit 2 "model rejects a bad --align-epochs before pretraining" "$T" model --world "$tmp/w" $M --align-epochs 0 --out "$tmp/m3"
[ ! -e "$tmp/m3/pretrain" ] && ok "nothing was pretrained" || no "nothing was pretrained"
expect_exit 2 "model: a bad pretraining option is named by the pretrain step" "$T" model --world "$tmp/w" --layers x --out "$tmp/m4"
grep -q "toyllm pretrain: error: --layers: 'x' is not an integer" "$tmp/err" && ok "the message names the step and option" || no "the message names the step and option: $(cat "$tmp/err")"
expect_exit 2 "model rejects align's own options" "$T" model --world "$tmp/w" --mix 1 --out "$tmp/m5"

expect_exit 0 "generate replies to a prompt" "$T" generate --model "$tmp/a" --prompt "what color is the x" --out "$tmp/g"
grep -q '"reply": ' "$tmp/g/generations.jsonl" && ok "generate writes generations.jsonl" || no "generate writes generations.jsonl"
expect_exit 0 "generate over a split with sampling" "$T" generate --model "$tmp/a" --prompts "$tmp/w/eval_benign.jsonl" --temperature 1 --seed 5 --out "$tmp/g2"
expect_exit 0 "sampling again with the same seed" "$T" generate --model "$tmp/a" --prompts "$tmp/w/eval_benign.jsonl" --temperature 1 --seed 5 --out "$tmp/g3"
cmp -s "$tmp/g2/generations.jsonl" "$tmp/g3/generations.jsonl" && ok "seeded sampling is repeatable" || no "seeded sampling is repeatable"

# corrupt and mismatched inputs
mkdir -p "$tmp/bad"
cp "$tmp/p1/model.bin" "$tmp/p1/vocab.txt" "$tmp/bad/"
printf 'X' | dd of="$tmp/bad/model.bin" bs=1 seek=200 conv=notrunc 2>/dev/null
expect_exit 2 "info rejects a corrupted model" "$T" info --model "$tmp/bad"
grep -q "corrupt" "$tmp/err" && ok "the message says the model is corrupt" || no "the message says the model is corrupt: $(cat "$tmp/err")"
expect_exit 2 "align rejects a corrupted model" "$T" align --model "$tmp/bad" --world "$tmp/w" --out "$tmp/a2"
expect_exit 2 "generate rejects a corrupted model" "$T" generate --model "$tmp/bad" --prompt "hi" --out "$tmp/g4"
head -c 100 "$tmp/p1/model.bin" >"$tmp/bad/model.bin"
expect_exit 2 "info rejects a truncated model" "$T" info --model "$tmp/bad"
expect_exit 2 "align rejects a world with another vocabulary" "$T" align --model "$tmp/p1" --world "$tmp/w4" --out "$tmp/a3"
cp "$tmp/p1/model.bin" "$tmp/bad/model.bin"
cp "$tmp/w4/vocab.txt" "$tmp/bad/vocab.txt"
expect_exit 2 "a vocab.txt that does not match the model header is rejected" "$T" info --model "$tmp/bad"
mkdir -p "$tmp/w5" && cp -r "$tmp/w/." "$tmp/w5/" && printf '{"prompt": broken\n' >"$tmp/w5/align_train.jsonl"
expect_exit 2 "align rejects a malformed split" "$T" align --model "$tmp/p1" --world "$tmp/w5" --out "$tmp/a4"
grep -q "align_train.jsonl:1: malformed JSON line" "$tmp/err" && ok "the message names file and line" || no "the message names file and line: $(cat "$tmp/err")"

echo "# t0100: $fails failed"
[ "$fails" -eq 0 ]
