#!/bin/sh
# study report, "why it ran", for a stage whose cache key did not change:
# rerun by `run --force` it says forced (not that its cached output "could
# not be used", which points at a damaged store); rerun after a failure it
# says "failed last time" with the reason. Neither may be empty.
. "$(dirname "$0")/lib.sh"
S="$TMP/store"
copy_study "$TOP/studies/example.yaml" "$TMP/ex.yaml"
"$STUDY" run "$TMP/ex.yaml" --store "$S" >/dev/null 2>&1
"$STUDY" run "$TMP/ex.yaml" --store "$S" --force model/small >/dev/null 2>&1
check_eq "the forced run ran one stage" \
	"$(sqlite3 "$S/provenance.db" "SELECT count(*) FROM executions WHERE run_id = 2 AND status = 'ran'")" 1
e=$(sqlite3 "$S/provenance.db" "SELECT id FROM executions WHERE run_id = 1 AND stage_id = 'model/small'")
"$STUDY" report --store "$S" --out "$TMP/r.html" >/dev/null 2>&1
check_eq "report: exit 0" "$?" 0
check "the forced stage: forced, same key (vs its previous execution)" \
	grep -qF "ran: forced (run --force); same cache key as last time (vs execution $e, run 1)" "$TMP/r.html"
check "no stage is said to have had an unusable cache" \
	sh -c "! grep -qF 'could not be used' '$TMP/r.html'"

# the same key after a failure (the stage reads a file outside its key)
S2="$TMP/store2"
cat >"$TMP/f.yaml" <<YAML
study: flip
root: $TOP
data:
  d: {run: [sh, -c, 'test ! -e "\$1/fail" || exit 3; echo ok >"\$0/x"', "\${out}", "$TMP"]}
YAML
touch "$TMP/fail"
"$STUDY" run "$TMP/f.yaml" --store "$S2" >/dev/null 2>&1
rm "$TMP/fail"
"$STUDY" run "$TMP/f.yaml" --store "$S2" >/dev/null 2>&1
"$STUDY" report --store "$S2" --out "$TMP/f.html" >/dev/null 2>&1
check "rerun after a failure: failed last time, with its reason" \
	grep -qF "ran: failed last time: exit status 3 (vs execution 1, run 1)" "$TMP/f.html"
check "no empty reason" sh -c "! grep -qF 'ran:  (vs' '$TMP/f.html'"
done_testing
