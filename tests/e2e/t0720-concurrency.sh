#!/bin/sh
# Concurrency (issue 7): several `run`s on one store at once. With the default
# the later ones wait for the writer lock and then succeed; with --no-wait
# they exit 1 at once with a clear message; a waiter takes over from a holder
# that is SIGKILLed. Readers (log, show, status, results) work while a run
# holds the store. Everything stays consistent in every case.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/reliability.sh"
cd "$TOP"
S="$TMP/store"
copy_study studies/example.yaml "$TMP/a.yaml"
sed 's/^seed: .*/seed: 7/' "$TMP/a.yaml" >"$TMP/b.yaml"
cat >"$TMP/slow.yaml" <<YAML
study: slow
root: $TOP
data:
  slow: {run: [stages/bin/toystage, sleep, --seconds, "4", --out, "\${out}"]}
YAML

# three runs started together: all succeed, one after the other
"$STUDY" run "$TMP/a.yaml" --store "$S" -j 1 >"$TMP/o1" 2>"$TMP/e1" &
p1=$!
"$STUDY" run "$TMP/b.yaml" --store "$S" -j 1 >"$TMP/o2" 2>"$TMP/e2" &
p2=$!
"$STUDY" run "$TMP/a.yaml" --store "$S" -j 1 >"$TMP/o3" 2>"$TMP/e3" &
p3=$!
wait $p1; r1=$?
wait $p2; r2=$?
wait $p3; r3=$?
check_eq "three simultaneous runs all succeed (exit codes)" "$r1 $r2 $r3" "0 0 0"
check "at least one of them waited for the lock" \
	sh -c "cat '$TMP/e1' '$TMP/e2' '$TMP/e3' | grep -q 'waiting for the store lock'"
check_eq "three runs recorded ok" \
	"$(sqlite3 "$S/provenance.db" "SELECT count(*) FROM runs WHERE status = 'ok'")" 3
check_eq "each stage of study a ran once (the other run found it cached)" \
	"$(sqlite3 "$S/provenance.db" "SELECT count(*) FROM executions e JOIN runs r
	   ON e.run_id = r.id WHERE e.status = 'ran' AND e.stage_id = 'report'")" 2
check "the store is consistent after concurrent runs" store_check "$S"

# readers while a run holds the lock
"$STUDY" run "$TMP/slow.yaml" --store "$S" >/dev/null 2>&1 &
p=$!
i=0
while ! grep -q "^$p" "$S/lock" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.2
"$STUDY" log --store "$S" >"$TMP/log" 2>&1
check_eq "log works during a run" "$?" 0
check "log shows the running run" grep -q running "$TMP/log"
"$STUDY" show 1 --store "$S" >/dev/null 2>&1
check_eq "show works during a run" "$?" 0
"$STUDY" show report --store "$S" >/dev/null 2>&1
check_eq "show STAGE works during a run" "$?" 0
"$STUDY" status "$TMP/a.yaml" --store "$S" >"$TMP/status" 2>&1
check_eq "status works during a run" "$?" 0
"$STUDY" results --store "$S" >/dev/null 2>&1
check_eq "results works during a run" "$?" 0
check "the readers did not wait for the run (it is still going)" kill -0 $p
"$STUDY" run "$TMP/a.yaml" --store "$S" --no-wait >/dev/null 2>"$TMP/nowait"
check_eq "--no-wait on a busy store exits 1" "$?" 1
check "... saying who holds it" grep -q "study: error: store '.*' is locked by another run (pid $p)" "$TMP/nowait"
wait $p
check_eq "the holder finished fine" "$?" 0

# a waiter takes over when the holder is SIGKILLed
sed 's/"4"/"30"/' "$TMP/slow.yaml" >"$TMP/slower.yaml"
"$STUDY" run "$TMP/slower.yaml" --store "$S" >/dev/null 2>&1 &
p=$!
i=0
while ! grep -q "^$p" "$S/lock" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
"$STUDY" run "$TMP/b.yaml" --store "$S" >/dev/null 2>"$TMP/waiter" &
w=$!
sleep 0.5
kill -9 $p
wait $p 2>/dev/null
wait $w
check_eq "the waiting run succeeds after the holder is killed" "$?" 0
check_eq "the killed holder is marked interrupted" "$(sqlite3 "$S/provenance.db" \
	"SELECT status FROM runs WHERE study_name = 'slow' ORDER BY id DESC LIMIT 1")" interrupted
check "no stage of the killed run is left" wait_no_procs "$S"
check "the store is consistent at the end" store_check "$S"
done_testing
