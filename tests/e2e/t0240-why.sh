#!/bin/sh
# `study why STAGE` (and `show STAGE --why`): why the latest execution of a
# stage ran instead of hitting the cache, from provenance alone: the first
# run, a method's params edited in the study file, an input produced anew
# upstream (naming the upstream stage and its run), a cache hit, a code
# change, more changes than are listed, and --json. Exact outputs; times
# are replaced by TIME, digests are read from the database.
. "$(dirname "$0")/lib.sh"
S="$TMP/store"
copy_study "$TOP/studies/example.yaml" "$TMP/ex.yaml"
why() { "$STUDY" why "$@" --store "$S" | sed 's/([0-9T:-]*Z)/(TIME)/g'; }
run() { "$STUDY" run "$TMP/ex.yaml" --store "$S" >/dev/null 2>&1; }
q() { sqlite3 "$S/provenance.db" "$1"; }
# the output stage $1 had in run $2 (ran or cached), shortened
out12() {
	q "SELECT substr(output_digest, 1, 12) FROM executions
	   WHERE stage_id = '$1' AND run_id = $2 AND status IN ('ran', 'cached')"
}
run

# 1. the first execution ever
check_eq "first run: no earlier execution" "$(why data/corpus)" \
	"stage data/corpus ran in run 1 (TIME) because no earlier execution of it is recorded"

# 2. a method's params edited in the study file
sed -i 's/params: {factor: 0.5}/params: {factor: 0.7}/' "$TMP/ex.yaml"
run
check_eq "edited params: named with both values" "$(why method/halve/small)" \
"stage method/halve/small ran in run 2 (TIME) because its cache key changed since run 1:
  params.factor: 0.5 -> 0.7"
check_eq "show --why says the same" \
	"$("$STUDY" show method/halve/small --why --store "$S" | sed 's/([0-9T:-]*Z)/(TIME)/g')" \
	"$(why method/halve/small)"

# 3. an input produced anew upstream: the upstream stage and its run
a=$(out12 method/halve/small 1)
b=$(out12 method/halve/small 2)
check_eq "upstream change: the input, its stage, both digests, the run that produced it" \
	"$(why eval/accuracy/small/halve)" \
"stage eval/accuracy/small/halve ran in run 2 (TIME) because its cache key changed since run 1:
  input model (method/halve/small): sha256:$a -> sha256:$b  (method/halve/small ran in run 2)"

# 4. a cache hit: when its output was produced
c=$(out12 model/small 1)
check_eq "cache hit: says so and when the output was produced" "$(why model/small)" \
	"stage model/small was a cache hit in run 2 (TIME): nothing ran; its output sha256:$c was produced in run 1 (TIME)"

# 5. --json: the verdict, every difference (the argv one the param explains
#    is marked derived), the producing run of an input
"$STUDY" why method/halve/small --store "$S" --json >"$TMP/j"
check "json: verdict changed" json_has "$(cat "$TMP/j")" verdict '"changed"'
check "json: the previous execution's run" \
	sh -c "tr -d ' \t\n' <'$TMP/j' | grep -q '\"previous\":{\"execution_id\":[0-9]*,\"run_id\":1,'"
check "json: the param's change with canonical values" \
	sh -c "tr -d ' \t\n' <'$TMP/j' | grep -q '{\"field\":\"params\",\"path\":\"params.factor\",\"before\":\"0.5\",\"after\":\"0.7\",\"derived\":false}'"
check "json: the argv change it accounts for is derived" \
	sh -c "tr -d ' \t\n' <'$TMP/j' | grep -q '{\"field\":\"argv\",\"path\":\"argv\[5\]\",\"before\":\"\\\\\"0.5\\\\\"\",\"after\":\"\\\\\"0.7\\\\\"\",\"derived\":true}'"
"$STUDY" why eval/accuracy/small/halve --store "$S" --json >"$TMP/j"
check "json: an input names its stage and producing run" \
	sh -c "tr -d ' \t\n' <'$TMP/j' | grep -q '\"input\":\"model\",\"input_stage\":\"method/halve/small\",\"producer_run\":2'"
"$STUDY" show model/small --why --json --store "$S" >"$TMP/j"
check "json: a cache hit's verdict and source run" \
	sh -c "tr -d ' \t\n' <'$TMP/j' | grep -q '\"verdict\":\"cache-hit\".*\"source\":{\"execution_id\":[0-9]*,\"run_id\":1,'"

# 6. the seed changes every data stage: the argv difference is accounted
#    for; many input changes are capped at 10 lines per field
sed -i 's/^seed: 42/seed: 43/' "$TMP/ex.yaml"
run
check_eq "seed: named, its argv use left out" "$(why data/corpus)" \
"stage data/corpus ran in run 3 (TIME) because its cache key changed since run 2:
  seed: \"42\" -> \"43\""
check_eq "14 changed inputs: the seed first, 10 inputs in natural order, then a count" \
	"$(why report | sed -n '1,3p; 12,13p'; why report | wc -l | tr -d ' ')" \
"stage report ran in run 3 (TIME) because its cache key changed since run 2:
  seed: \"42\" -> \"43\"
  input evaluations[0] (eval/accuracy/small/base): sha256:$(out12 eval/accuracy/small/base 2) -> sha256:$(out12 eval/accuracy/small/base 3)  (eval/accuracy/small/base ran in run 3)
  input evaluations[11] (eval/accuracy/large/halve+restore): sha256:$(out12 eval/accuracy/large/halve+restore 2) -> sha256:$(out12 eval/accuracy/large/halve+restore 3)  (eval/accuracy/large/halve+restore ran in run 3)
  ... and 4 more changes to inputs
13"

# 7. a program that a stage runs (a code file in the study root) changed:
#    a copy of toystage inside a scratch root
mkdir -p "$TMP/root/bin"
cp "$TOP/stages/bin/toystage" "$TMP/root/bin/toystage"
cat >"$TMP/code.yaml" <<EOF
study: code
root: $TMP/root
data:
  d: {run: [bin/toystage, gen, --seed, "1", --n, "4", --out, "\${out}"]}
EOF
"$STUDY" run "$TMP/code.yaml" --store "$S" >/dev/null 2>&1
d1=$(sha256sum "$TMP/root/bin/toystage" | cut -c1-12)
printf '\n' >>"$TMP/root/bin/toystage"
d2=$(sha256sum "$TMP/root/bin/toystage" | cut -c1-12)
"$STUDY" run "$TMP/code.yaml" --store "$S" >/dev/null 2>&1
r=$(q "SELECT max(id) FROM runs")
check_eq "code: the file and both digests" "$(why data/d)" \
"stage data/d ran in run $r (TIME) because its cache key changed since run $((r - 1)):
  code bin/toystage: sha256:$d1 -> sha256:$d2"

# 8. bad usage: exact messages, exit 2
"$STUDY" why nope/x --store "$S" >/dev/null 2>"$TMP/e"
check_eq "unknown stage exits 2" "$?" 2
check_eq "unknown stage: the message" "$(cat "$TMP/e")" \
	"study: error: no execution of stage 'nope/x' recorded"
"$STUDY" why --store "$S" >/dev/null 2>"$TMP/e"
check_eq "no stage: exit 2" "$?" 2
check_eq "no stage: the message" "$(head -1 "$TMP/e")" \
	"study: error: why needs a stage id (e.g. model/m1)"
"$STUDY" why a b --store "$S" >/dev/null 2>"$TMP/e"
check_eq "two stages: the message" "$(head -1 "$TMP/e")" "study: error: unexpected argument 'b'"
"$STUDY" show 1 --why --store "$S" >/dev/null 2>"$TMP/e"
check_eq "show RUN --why: exit 2" "$?" 2
check_eq "show RUN --why: the message" "$(head -1 "$TMP/e")" \
	"study: error: --why explains a stage: give a stage id, not a run id"
"$STUDY" show model/small --why --lineage --store "$S" >/dev/null 2>"$TMP/e"
check_eq "--why with --lineage: the message" "$(head -1 "$TMP/e")" \
	"study: error: --why and --lineage cannot be combined"
"$STUDY" why model/small --store "$TMP/none" >/dev/null 2>"$TMP/e"
check_eq "no database: the message" "$(cat "$TMP/e")" \
	"study: error: no provenance database at '$TMP/none/provenance.db' (has a study been run with this store?)"
done_testing
