#!/bin/sh
# End to end: resources.gpus on the local executor (issue 13), testable
# without GPUs: slots are numbers. With --gpus 2, two 1-GPU stages get
# CUDA_VISIBLE_DEVICES 0 and 1 and a third waits for a slot; a stage that
# asks for none sees none; the slot is recorded (env_json) and is not part
# of the cache key: rerun so that every stage gets slot 0, the keys and
# outputs are the same. Without --gpus the slots are the orchestrator's
# CUDA_VISIBLE_DEVICES entries. Asking for more GPUs than there are slots,
# or passing CUDA_VISIBLE_DEVICES through to a GPU stage, is refused before
# anything runs; a bad --gpus is a usage error.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
TOY=${TOY_BIN_DIR:-$TOP/stages/bin}/toystage
q() { sqlite3 "$1/provenance.db" "$2"; }
cvd() { # cvd STORE RUN STAGE: the CUDA_VISIBLE_DEVICES it was given ("-" none)
	q "$1" "SELECT coalesce(json_extract(env_json, '\$.CUDA_VISIBLE_DEVICES'), '-')
		FROM executions WHERE run_id = $2 AND stage_id = '$3' AND status = 'ran'"
}

cat >"$TMP/g.yaml" <<YAML
study: gpus
root: $TOP
data:
  a: {run: ["$TOY", sleep, --seconds, "0.6", --out, "\${out}"], resources: {gpus: 1}}
  b: {run: ["$TOY", sleep, --seconds, "0.6", --out, "\${out}"], resources: {gpus: 1}}
  c: {run: ["$TOY", sleep, --seconds, "0.6", --out, "\${out}"], resources: {gpus: 1}}
  cpu: {run: ["$TOY", sleep, --seconds, "0", --out, "\${out}"]}
YAML
S="$TMP/s"
"$STUDY" run "$TMP/g.yaml" --store "$S" --gpus 2 -j 4 >/dev/null 2>"$TMP/err"
check_eq "--gpus 2: three 1-GPU stages run" "$?" 0
check_eq "the first two get CUDA_VISIBLE_DEVICES 0 and 1" \
	"$(cvd "$S" 1 data/a) $(cvd "$S" 1 data/b)" "0 1"
third=$(cvd "$S" 1 data/c)
check "the third gets a slot too (got '$third')" sh -c "[ '$third' = 0 ] || [ '$third' = 1 ]"
check_eq "... and waits for it: it starts after the first of the other two ended" \
	"$(q "$S" "SELECT c.started >= min(a.ended, b.ended) FROM executions a, executions b,
		executions c WHERE a.stage_id = 'data/a' AND b.stage_id = 'data/b'
		AND c.stage_id = 'data/c'")" 1
check_eq "a stage that asks for no GPU sees none" "$(cvd "$S" 1 data/cpu)" ""

# every stage on slot 0, one at a time: the same keys, the same outputs
"$STUDY" run "$TMP/g.yaml" --store "$S" --gpus 2 -j 1 --force 'data/*' >/dev/null 2>"$TMP/err2"
check_eq "forced again with -j 1" "$?" 0
check_eq "... this time b got slot 0" "$(cvd "$S" 2 data/b)" 0
check_eq "the cache keys do not depend on the slot" \
	"$(q "$S" "SELECT count(DISTINCT cache_key) || ' ' || count(DISTINCT output_digest)
		|| ' ' || count(*) FROM executions WHERE status = 'ran' GROUP BY stage_id" | sort -u)" \
	"1 1 2"
check "... and no forced rerun reports a changed output" sh -c "! grep -q 'output changed' '$TMP/err2'"
check "the slot is not in the cache record" \
	sh -c "! sqlite3 '$S/provenance.db' \"SELECT cache_record FROM executions\" | grep -q CUDA"

# without --gpus: the orchestrator's CUDA_VISIBLE_DEVICES names the slots
CUDA_VISIBLE_DEVICES=3,5 "$STUDY" run "$TMP/g.yaml" --store "$TMP/t" -j 4 >/dev/null 2>&1
check_eq "CUDA_VISIBLE_DEVICES=3,5: the slots are 3 and 5" \
	"$(cvd "$TMP/t" 1 data/a) $(cvd "$TMP/t" 1 data/b)" "3 5"

# more GPUs than slots: refused before anything runs, --dry-run too
cat >"$TMP/three.yaml" <<YAML
study: three
root: $TOP
data:
  big:
    run: ["$TOY", sleep, --seconds, "0", --out, "\${out}"]
    resources: {gpus: 3}
YAML
want="study: error: $TMP/three.yaml:6:23: stage 'data/big' asks for 3 GPUs (resources.gpus), but --gpus 2 gives 2 GPU slots"
"$STUDY" run "$TMP/three.yaml" --store "$TMP/u" --gpus 2 >/dev/null 2>"$TMP/err"
check_eq "gpus: 3 with --gpus 2: exit 2 and the exact message" "$?:$(cat "$TMP/err")" "2:$want"
check "... nothing ran, the store was not created" test ! -e "$TMP/u"
"$STUDY" run "$TMP/three.yaml" --store "$TMP/u" --gpus 2 --dry-run >/dev/null 2>"$TMP/err"
check_eq "... the same with --dry-run" "$?:$(cat "$TMP/err")" "2:$want"
CUDA_VISIBLE_DEVICES= "$STUDY" run "$TMP/three.yaml" --store "$TMP/u" >/dev/null 2>"$TMP/err"
check_eq "an empty CUDA_VISIBLE_DEVICES hides every GPU" "$?:$(cat "$TMP/err")" \
	"2:study: error: $TMP/three.yaml:6:23: stage 'data/big' asks for 3 GPUs (resources.gpus), but CUDA_VISIBLE_DEVICES hides every GPU (use --gpus N to change)"

# a GPU stage may not pass CUDA_VISIBLE_DEVICES through
cat >"$TMP/env.yaml" <<YAML
study: env
root: $TOP
data:
  g:
    run: ["$TOY", sleep, --seconds, "0", --out, "\${out}"]
    resources: {gpus: 1}
    env: [HOME, CUDA_VISIBLE_DEVICES]
YAML
"$STUDY" run "$TMP/env.yaml" --store "$TMP/u" --gpus 1 >/dev/null 2>"$TMP/err"
check_eq "env: [CUDA_VISIBLE_DEVICES] on a GPU stage: exit 2 and the message" \
	"$?:$(cat "$TMP/err")" \
	"2:study: error: $TMP/env.yaml:7:17: stage 'data/g' asks for GPUs (resources.gpus) and passes CUDA_VISIBLE_DEVICES through (env): the GPU slots it is given set it; remove it from 'env'"

# a bad --gpus
for v in 65 x -1 ""; do
	"$STUDY" run "$TMP/g.yaml" --store "$TMP/u" --gpus "$v" >/dev/null 2>"$TMP/err"
	check_eq "--gpus '$v': exit 2 and the message" "$?:$(head -1 "$TMP/err")" \
		"2:study: error: --gpus wants a number from 0 to 64, not '$v'"
done
done_testing
