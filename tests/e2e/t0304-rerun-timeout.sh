#!/bin/sh
# End to end: `verify --rerun --timeout` stops a stage with the executor's
# kill policy, the one `run` applies to resources.time (issue 13): TERM
# first (a stage that handles it gets to), then KILL 5 s later (a stage that
# ignores it is killed); either is reported "killed after the time limit".
# The stages sleep only when rerun (a marker outside the root says so).
. "$(dirname "$0")/lib.sh"
cd "$TOP"
cat >"$TMP/r.yaml" <<YAML
study: rerun-timeout
root: $TOP
data:
  polite:
    run: [sh, -c, 'trap "echo got TERM >> \$0.term; exit 3" TERM; if [ -e "\$0" ]; then sleep 30 & wait; fi; echo x > "\$1/x"', "$TMP/marker", "\${out}"]
  deaf:
    run: [sh, -c, 'trap "" TERM; if [ -e "\$0" ]; then sleep 30; fi; echo x > "\$1/x"', "$TMP/marker", "\${out}"]
YAML
S="$TMP/s"
"$STUDY" run "$TMP/r.yaml" --store "$S" >/dev/null 2>&1
check_eq "the study runs" "$?" 0
: >"$TMP/marker"
"$STUDY" verify --store "$S" --rerun data/polite --timeout 1 --json >"$TMP/out" 2>"$TMP/err"
check_eq "a rerun past --timeout fails verify" "$?" 1
check "... reported as killed after the time limit" grep -q "\"detail\":[[:space:]]*\"killed after the time limit\"" "$TMP/out"
check_eq "the stage got TERM first (its handler ran)" "$(cat "$TMP/marker.term" 2>/dev/null)" "got TERM"
secs=$(sed -n 's/.*"seconds":[[:space:]]*\([0-9.]*\).*/\1/p' "$TMP/out" | cut -d. -f1)
check "... and stopped then, about 1 s in (got ${secs}s)" sh -c "[ '$secs' -ge 1 ] && [ '$secs' -lt 4 ]"
"$STUDY" verify --store "$S" --rerun data/deaf --timeout 1 --json >"$TMP/out" 2>"$TMP/err"
check "a stage that ignores TERM is killed too" grep -q "\"detail\":[[:space:]]*\"killed after the time limit\"" "$TMP/out"
secs=$(sed -n 's/.*"seconds":[[:space:]]*\([0-9.]*\).*/\1/p' "$TMP/out" | cut -d. -f1)
check "... by KILL, 5 s after the TERM (got ${secs}s)" sh -c "[ '$secs' -ge 6 ] && [ '$secs' -lt 10 ]"
done_testing
