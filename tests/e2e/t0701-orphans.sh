#!/bin/sh
# Crash safety (issue 7): a stage that leaves a long-lived grandchild (which
# PR_SET_PDEATHSIG does not reach) must not outlive a SIGKILLed orchestrator:
# the runner notes each running stage's process group in its work directory
# (work/<stage>-XXXXXX/pgid) and the next run kills what is left of that
# group before it removes the work directory.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/reliability.sh"
cd "$TOP"
S="$TMP/store"
cat >"$TMP/spawn.yaml" <<YAML
study: spawner
root: $TOP
data:
  spawn: {run: [stages/bin/toystage, spawn, --seconds, "60", --pidfile, "$TMP/gc.pid", --out, "\${out}"]}
YAML
cat >"$TMP/quick.yaml" <<YAML
study: quick
root: $TOP
data:
  one: {run: [stages/bin/toystage, gen, --seed, "1", --n, "4", --out, "\${out}"]}
YAML
"$STUDY" run "$TMP/spawn.yaml" --store "$S" >/dev/null 2>&1 &
pid=$!
i=0
while [ ! -s "$TMP/gc.pid" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
gc=$(cat "$TMP/gc.pid" 2>/dev/null)
check "the stage started its grandchild" [ -n "$gc" ]
check "the running stage's process group is noted in its work directory" \
	sh -c "cat '$S'/work/*/pgid | grep -q '^[0-9][0-9]* [0-9][0-9]*\$'"
kill -9 $pid
wait $pid 2>/dev/null
sleep 0.2
check "the grandchild survives the orchestrator's death (as expected)" alive "$gc"
"$STUDY" run "$TMP/quick.yaml" --store "$S" >/dev/null 2>"$TMP/err"
check_eq "the next run on the store succeeds" "$?" 0
check "the next run killed the leftover grandchild" wait_dead "$gc"
check "no process is left inside the store" wait_no_procs "$S"
check "the killed run's work directory is gone" sh -c "[ -z \"\$(ls -A '$S/work')\" ]"
check_eq "the killed run is marked interrupted" \
	"$(sqlite3 "$S/provenance.db" "SELECT status FROM runs WHERE id = 1")" interrupted

# a stale pgid note whose number now belongs to an unrelated process is left alone
sleep 60 &
other=$!
mkdir -p "$S/work/stale-XXXXXX"
echo "$other 1" >"$S/work/stale-XXXXXX/pgid"
"$STUDY" run "$TMP/quick.yaml" --store "$S" >/dev/null 2>"$TMP/stale.err"
rc=$?
# (the run must have got past its cleanup of work/ for "not killed" to mean anything)
check_eq "a run over a stale pgid note succeeds" "$rc" 0
check "it removed the stale note's work directory" [ ! -e "$S/work/stale-XXXXXX" ]
check "a reused process group number (other start time) is not killed" alive $other
kill $other
wait $other 2>/dev/null

# a normal run kills what its stage left in its group when the stage exits
cat >"$TMP/short.yaml" <<YAML
study: short-spawner
root: $TOP
data:
  spawn: {run: [stages/bin/toystage, spawn, --seconds, "0.1", --child-seconds, "60", --pidfile, "$TMP/gc2.pid", --out, "\${out}"]}
YAML
"$STUDY" run "$TMP/short.yaml" --store "$S" >/dev/null 2>&1
check_eq "the short spawning study succeeds" "$?" 0
gc2=$(cat "$TMP/gc2.pid" 2>/dev/null)
check "the short stage started a long-lived grandchild" [ -n "$gc2" ]
check "a completed stage's leftover grandchild is killed with its group" wait_dead "$gc2"
done_testing
