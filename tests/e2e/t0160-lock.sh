#!/bin/sh
# End to end: a second run on a store held by another waits (default) or
# exits with a clear message (--no-wait); readers are never blocked.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
S="$TMP/store"
cat >"$TMP/slow.yaml" <<YAML
study: slow
root: $TOP
data:
  slow: {run: [stages/bin/toystage, sleep, --seconds, "2", --out, "\${out}"]}
YAML
"$STUDY" run "$TMP/slow.yaml" --store "$S" >"$TMP/out1" 2>&1 &
pid=$!
i=0
while [ ! -s "$S/lock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.3
"$STUDY" run studies/example.yaml --store "$S" --no-wait >/dev/null 2>"$TMP/err"; rc=$?
check_eq "--no-wait on a locked store exits 1" "$rc" 1
check "the message says who holds the lock" grep -q "is locked by another run (pid $pid)" "$TMP/err"
"$STUDY" log --store "$S" >"$TMP/log" 2>&1
check_eq "log works while a run holds the store" "$?" 0
check "log shows the running run" grep -q running "$TMP/log"
"$STUDY" run studies/example.yaml --store "$S" >"$TMP/out2" 2>"$TMP/err2"; rc=$?
check_eq "a waiting run succeeds once the lock is free" "$rc" 0
check "the waiting run said it was waiting" grep -q 'waiting for the store lock' "$TMP/err2"
wait $pid
check_eq "the first run succeeded" "$?" 0
done_testing
