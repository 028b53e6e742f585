#!/bin/sh
# study gc after a run of some TARGETs: that run does not count toward
# --keep-runs, so the outputs of the last whole run (which it did not use)
# stay, and the next whole run is all cache hits. Found by a new user:
# gc removed 11 trees and 18 cache entries and the next run reran 18 of 19.
. "$(dirname "$0")/lib.sh"

cat >"$TMP/s.yaml" <<YAML
study: partial-gc
root: .
data:
  corpus: {run: [sh, -c, 'echo c >"\$1"/c', x, "\${out}"]}
  other: {run: [sh, -c, 'echo o >"\$1"/o', x, "\${out}"]}
models:
  m1: {run: [sh, -c, 'cat "\$1"/c "\$2"/o >"\$3"/m', x, "\${data.corpus}", "\${data.other}", "\${out}"]}
YAML
S="$TMP/st"
"$STUDY" run "$TMP/s.yaml" --store "$S" >/dev/null 2>&1
"$STUDY" run "$TMP/s.yaml" data/corpus --store "$S" >"$TMP/out" 2>&1
check_eq "the partial run" "$(cat "$TMP/out")" "run 2: ran 0, cached 1, failed 0, not selected 2"
"$STUDY" gc --store "$S" >"$TMP/gc" 2>&1
check_eq "gc keeps the whole run 1 and the partial run 2" "$(head -n 1 "$TMP/gc")" \
	"gc: keeping 3 trees, 4 objects and 3 cache entries used by runs 1, 2"
"$STUDY" run "$TMP/s.yaml" --store "$S" >"$TMP/out" 2>&1
check_eq "the next whole run is all cache hits" "$(cat "$TMP/out")" "run 3: ran 0, cached 3, failed 0"
"$STUDY" gc --store "$S" --keep-runs 1 >"$TMP/gc" 2>&1
check_eq "a later whole run makes the partial one collectable" "$(head -n 1 "$TMP/gc")" \
	"gc: keeping 3 trees, 4 objects and 3 cache entries used by run 3"
done_testing
