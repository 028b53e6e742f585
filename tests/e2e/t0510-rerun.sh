#!/bin/sh
# End to end: `study verify --rerun` re-executes recorded stages from the
# store alone and finds the example study identical, a clock-reading stage
# different (naming the file), and a missing program.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
copy_study studies/example.yaml "$TMP/example.yaml"
S="$TMP/store"
st=0
for i in 1 2; do "$STUDY" run "$TMP/example.yaml" --store "$S" >/dev/null 2>&1 || st=$?; done
check_eq "the example study runs twice" "$st" 0

out=$("$STUDY" verify --rerun --store "$S"); rc=$?
check_eq "example study: every stage reruns identical (exit 0)" "$rc" 0
check_eq "example study: summary" "$(echo "$out" | tail -n 1)" \
	"rerun: 26 identical, 0 different, 0 failed"
check "a cached stage of the latest run is rerun from the execution that ran" \
	sh -c "echo \"\$1\" | grep -q '^rerun: identical report (execution 26, run 1)$'" - "$out"
check "nothing was added to the store" sh -c "[ \$(ls '$S'/objects/*/* | wc -l) -eq 26 ]"
check "no scratch directory left behind" sh -c "! ls -d \"\${TMPDIR:-/tmp}\"/study-rerun-* 2>/dev/null | grep -q ."

out=$("$STUDY" verify --rerun eval/drift/large/halve --store "$S" --json); rc=$?
check_eq "one stage by id: exit 0" "$rc" 0
check "one stage by id: --json result identical" json_has "$out" result '"identical"'
check "one stage by id: --json names it" json_has "$out" stage '"eval/drift/large/halve"'
out=$("$STUDY" verify --rerun --sample 4 --store "$S"); rc=$?
check_eq "--sample 4: exit 0" "$rc" 0
check_eq "--sample 4 reruns 4 stages" "$(echo "$out" | tail -n 1)" "rerun: 4 identical, 0 different, 0 failed"
again=$("$STUDY" verify --rerun --sample 4 --store "$S")
check_eq "--sample is deterministic" "$again" "$out"

# the store moved elsewhere: recorded input paths are mapped to the new place
mv "$S" "$TMP/moved"
out=$("$STUDY" verify --rerun --store "$TMP/moved"); rc=$?
check_eq "a moved store still reruns identical" "$rc" 0
chmod -R u+w "$TMP/moved/out" && rm -rf "$TMP/moved/out/"*
"$STUDY" verify --rerun model/large --store "$TMP/moved" >/dev/null; rc=$?
check_eq "inputs are re-materialised when out/ is gone" "$rc" 0

# a stage that writes the time cannot reproduce its bytes
N="$TMP/n"
cat >"$TMP/nondet.yaml" <<YAML
study: nondet
root: $TOP
data:
  clock: {run: [stages/bin/toystage, nondet, --out, "\${out}"]}
  fixed: {run: [stages/bin/toystage, gen, --seed, "1", --n, "4", --out, "\${out}"]}
YAML
"$STUDY" run "$TMP/nondet.yaml" --store "$N" >/dev/null 2>&1
out=$("$STUDY" verify --rerun --store "$N"); rc=$?
check_eq "non-deterministic stage: exit 1" "$rc" 1
check "non-deterministic stage: reported different with the file named" \
	sh -c "echo \"\$1\" | grep -q \"^rerun: different data/clock (execution [0-9]*, run 1): first difference: 'time.txt' differs\"" - "$out"
check "the deterministic stage beside it is identical" \
	sh -c "echo \"\$1\" | grep -q '^rerun: identical data/fixed'" - "$out"
check_eq "non-deterministic stage: summary" "$(echo "$out" | tail -n 1)" \
	"rerun: 1 identical, 1 different, 0 failed"
js=$("$STUDY" verify --rerun data/clock --store "$N" --json)
check "--json: ok false" json_has "$js" ok false
check "--json: result different" json_has "$js" result '"different"'

# a program that is gone
P="$TMP/p"
mkdir -p "$TMP/bin" && cp stages/bin/toystage "$TMP/bin/toystage"
cat >"$TMP/prog.yaml" <<YAML
study: prog
data:
  corpus: {run: [$TMP/bin/toystage, gen, --seed, "1", --n, "4", --out, "\${out}"]}
YAML
"$STUDY" run "$TMP/prog.yaml" --store "$P" >/dev/null 2>&1
rm -f "$TMP/bin/toystage"
out=$("$STUDY" verify --rerun --store "$P"); rc=$?
check_eq "missing program: exit 1" "$rc" 1
check "missing program: said so" sh -c "echo \"\$1\" | grep -q \"^rerun: failed    data/corpus (execution 1, run 1): program '$TMP/bin/toystage' is missing\"" - "$out"

"$STUDY" verify --rerun model/none --store "$N" >/dev/null 2>"$TMP/err"; rc=$?
check_eq "unknown stage: exit 2" "$rc" 2
check_eq "unknown stage: message" "$(cat "$TMP/err")" \
	"study: error: no successful execution of stage 'model/none' recorded"
"$STUDY" verify --rerun data/clock --sample 2 --store "$N" >/dev/null 2>&1; rc=$?
check_eq "a stage id and --sample together: exit 2" "$rc" 2
"$STUDY" verify --rerun --sample 0 --store "$N" >/dev/null 2>&1; rc=$?
check_eq "--sample 0: exit 2" "$rc" 2
done_testing
