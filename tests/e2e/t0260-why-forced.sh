#!/bin/sh
# `study why` of a stage that ran only because of `run --force`: it says so,
# not that its cached output "could not be used (missing or damaged)" -- the
# cache was fine, the user asked. A forced rerun that produced another
# output, and one that failed, say so too. Exact outputs; times -> TIME.
. "$(dirname "$0")/lib.sh"
S="$TMP/store"
cat >"$TMP/s.yaml" <<YAML
study: whyforced
root: $TOP
data:
  det: {run: [sh, -c, 'echo same >"\$0/x"', "\${out}"]}
  nd: {run: [sh, -c, 'cat /proc/sys/kernel/random/uuid >"\$0/x"', "\${out}"]}
  flip: {run: [sh, -c, 'test ! -e "\$1/fail" && echo ok >"\$0/x"', "\${out}", "$TMP"]}
YAML
why() { "$STUDY" why "$@" --store "$S" | sed 's/([0-9T:-]*Z)/(TIME)/g'; }
run() { "$STUDY" run "$TMP/s.yaml" --store "$S" "$@" >/dev/null 2>&1; }
q() { sqlite3 "$S/provenance.db" "$1"; }
out12() { # out12 STAGE RUN
	q "SELECT substr(output_digest, 1, 12) FROM executions WHERE stage_id = '$1' AND run_id = $2"
}
run
run --force data/det
d=$(out12 data/det 1)
check_eq "forced, same output" "$(why data/det)" \
"stage data/det ran in run 2 (TIME) because it was forced (run --force); its cache key is the same as in run 1
  it produced the same output again
  recorded reason: forced"
check "json: verdict forced" json_has "$("$STUDY" why data/det --store "$S" --json)" verdict '"forced"'
check_eq "show --why says the same" \
	"$("$STUDY" show data/det --why --store "$S" | sed 's/([0-9T:-]*Z)/(TIME)/g')" "$(why data/det)"

run --force data/nd
a=$(out12 data/nd 1)
b=$(out12 data/nd 3)
check_eq "forced, another output" "$(why data/nd)" \
"stage data/nd ran in run 3 (TIME) because it was forced (run --force); its cache key is the same as in run 2
  it produced a different output: sha256:$b
  recorded reason: forced, output changed from sha256:$a to sha256:$b: the stage is not deterministic"

touch "$TMP/fail"
run --force data/flip
check_eq "forced and failed" "$(why data/flip)" \
"stage data/flip ran in run 4 (TIME) and failed (exit status 1) because it was forced (run --force); its cache key is the same as in run 3"

# a stage whose cache entry really is gone is still "could not be used"
rm -f "$TMP/fail"
k=$(q "SELECT cache_key FROM executions WHERE stage_id = 'data/det' AND run_id = 2")
rm -f "$S/cache/$(printf %s "$k" | cut -c1-2)/$k" "$S/cache/$k"
run
check_eq "cache entry removed: not forced" "$(why data/det)" \
"stage data/det ran in run 5 (TIME) although its cache key is the same as in run 4: the cached output sha256:$d could not be used (its cache entry or stored output was missing or damaged)
  it produced the same output again"
done_testing
