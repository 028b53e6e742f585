#!/bin/sh
# study gc and the auditor's commands (issue 12): `verify --rerun` of a stage
# whose recorded output was collected still compares digests (identical, or
# different without naming a file); one whose input was collected says so and
# fails; `verify` lists collections per gc with the runs they concern; a run
# recorded after a collection that needs a collected digest gets it back,
# and if it goes missing again that is a problem, not "collected".
. "$(dirname "$0")/lib.sh"
cd "$TOP"
TOY=${TOY_BIN_DIR:-$TOP/stages/bin}/toystage
S="$TMP/store"
cat >"$TMP/x.yaml" <<YAML
study: gc-rerun
root: $TOP
data:
  corpus: {run: [$TOY, gen, --seed, "1", --n, "\${params.n}", --out, "\${out}"], params: {n: 8}}
  nd: {run: [$TOY, nondet, --out, "\${out}"]}
models:
  small:
    run: [$TOY, train, --data, "\${data.corpus}", --size, "4", --steps, "2", --out, "\${out}"]
  large:
    run: [$TOY, train, --data, "\${data.corpus}", --size, "8", --steps, "2", --out, "\${out}"]
YAML
# y: without data/nd and model/large; z: y with another corpus
grep -v '^  nd:' "$TMP/x.yaml" | awk '/^  large:/ { skip = 1; next } skip && /^    / { next } { skip = 0; print }' >"$TMP/y.yaml"
sed 's/params: {n: 8}/params: {n: 16}/' "$TMP/y.yaml" >"$TMP/z.yaml"
q() { sqlite3 "$S/provenance.db" "$1"; }

"$STUDY" run "$TMP/x.yaml" --store "$S" >/dev/null 2>&1
check_eq "run 1 (four stages) succeeds" "$?" 0
"$STUDY" run "$TMP/y.yaml" --store "$S" >"$TMP/out" 2>&1
check "run 2 (two of them) is all cache hits" grep -q 'run 2: ran 0, cached 2' "$TMP/out"
"$STUDY" gc --store "$S" >"$TMP/gc" 2>&1
check_eq "gc 1 removes the outputs of the two stages run 2 dropped" "$(tail -1 "$TMP/gc" | cut -d: -f2)" \
	" removed 2 trees, 2 objects, 2 cache entries and 0 temporaries"
large=$(q "SELECT id FROM executions WHERE stage_id = 'model/large'")
nd=$(q "SELECT id FROM executions WHERE stage_id = 'data/nd'")
nd_out=$(q "SELECT output_digest FROM executions WHERE id = $nd")

"$STUDY" verify --store "$S" --rerun model/large >"$TMP/rerun" 2>&1
check_eq "verify --rerun of a collected output: digests still compare (exit 0)" "$?" 0
check_eq "... identical" "$(head -1 "$TMP/rerun")" \
	"rerun: identical model/large (execution $large, run 1)"
"$STUDY" verify --store "$S" --rerun data/nd >"$TMP/rerun" 2>&1
check_eq "verify --rerun of a collected, irreproducible output: exit 1" "$?" 1
got=$(sed -n 's/.*output digest \([0-9a-f]*\), recorded.*/\1/p' "$TMP/rerun")
check_eq "... different, saying the files cannot be named" "$(head -1 "$TMP/rerun")" \
	"rerun: different data/nd (execution $nd, run 1): output digest $got, recorded $(printf %.12s "$nd_out") (the recorded output was removed by gc 1: the first differing file cannot be named)"
check_eq "the rerun added nothing to the store" "$(find "$S/trees" -name "$got")" ""

"$STUDY" run "$TMP/z.yaml" --store "$S" >"$TMP/out" 2>&1
check "run 3 (another corpus) reruns both stages" grep -q 'run 3: ran 2, cached 0' "$TMP/out"
"$STUDY" gc --store "$S" >"$TMP/gc" 2>&1
check_eq "gc 2 removes the old corpus (the small model came out the same)" \
	"$(tail -1 "$TMP/gc" | cut -d: -f2)" " removed 1 tree, 1 object, 1 cache entry and 0 temporaries"
corpus=$(q "SELECT output_digest FROM executions WHERE stage_id = 'data/corpus' AND run_id = 1")
"$STUDY" verify --store "$S" --rerun model/large >"$TMP/rerun" 2>&1
check_eq "verify --rerun of a stage whose input was collected: exit 1" "$?" 1
check_eq "... it cannot run, and says why" "$(head -1 "$TMP/rerun")" \
	"rerun: failed    model/large (execution $large, run 1): input: tree '$corpus' was removed by gc 2; run the study to make it again"

"$STUDY" verify --store "$S" --no-git >"$TMP/verify" 2>&1
check_eq "verify after two collections exits 0" "$?" 0
check_eq "... one line per collection, with the runs that recorded what it removed" \
	"$(grep collected "$TMP/verify")" \
	"verify: collected: 2 trees recorded by run 1 were removed by gc 1
verify: collected: 1 tree recorded by runs 1 to 2 was removed by gc 2"
"$STUDY" verify --store "$S" --rerun >"$TMP/rerun" 2>&1
check_eq "verify --rerun of the latest run: every kept stage reproduces" "$(tail -1 "$TMP/rerun")" \
	"rerun: 2 identical, 0 different, 0 failed"

# the study again: what gc removed is made again, and is then required
"$STUDY" run "$TMP/x.yaml" --store "$S" >"$TMP/out" 2>&1
check "run 4 (the first study again) reruns the three collected stages" \
	grep -q 'run 4: ran 3, cached 1' "$TMP/out"
"$STUDY" verify --store "$S" --no-git >"$TMP/verify" 2>&1
check_eq "verify is clean; only the irreproducible output stays collected" \
	"$?:$(grep collected "$TMP/verify")" \
	"0:verify: collected: 1 tree recorded by run 1 was removed by gc 1"
lout=$(q "SELECT output_digest FROM executions WHERE id = $large")
chmod -R u+w "$S/out/$lout"
rm -rf "$S/out/$lout" "$S/trees/$(printf %.2s "$lout")/$lout"
"$STUDY" verify --store "$S" --no-git >"$TMP/verify" 2>&1
check_eq "a collected digest that a later run needs and lacks: verify exits 1" "$?" 1
lnew=$(q "SELECT id FROM executions WHERE stage_id = 'model/large' AND run_id = 4")
check "... reporting it missing for the later run" grep -qx \
	"verify: tree '$lout' (output of execution $lnew) is missing or corrupt (stage model/large, run 4)" \
	"$TMP/verify"
check "... while run 1's reference to it is still only collected" grep -qx \
	"verify: collected: 2 trees recorded by run 1 were removed by gc 1" "$TMP/verify"
done_testing
