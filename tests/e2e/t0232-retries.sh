#!/bin/sh
# End to end: a stage whose process fails (exit status, signal) is run again
# up to resources.retries (else run --retries) more times, 1 s apart; each
# failed attempt that is retried is a 'retried' row ("attempt N of M"), the
# last attempt is the stage's result and the run counts the stage once. A
# stage that fails every attempt fails as before; retries: 0 in the study
# wins over --retries. The flaky stages count their attempts in files
# outside ${out} (and outside the root, so not in the cache key).
. "$(dirname "$0")/lib.sh"
cd "$TOP"
# flaky NAME NEED: a stage that fails (exit 3) until its NEEDth attempt
flaky() {
	printf '%s\n' "    run: [sh, -c, 'n=\$(cat \"\$0\" 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n >\"\$0\"; if [ \$n -lt \$2 ]; then echo \"attempt \$n fails\" >&2; exit 3; fi; echo ok >\"\$1/result.txt\"', \"$TMP/count-$1\", \"\${out}\", \"$2\"]"
}
rows() { # rows STORE RUN: stage|status|reason of each execution of the run
	sqlite3 "$1/provenance.db" "SELECT stage_id || '|' || status || '|' || coalesce(reason, '')
		FROM executions WHERE run_id = $2 ORDER BY id"
}

# retries: 1, two stages failing once each (an exit status, a signal), in parallel
{
	echo "study: retrying"
	echo "root: $TOP"
	echo "data:"
	echo "  flaky:"
	flaky a 2
	echo "    resources: {retries: 1}"
	echo "  killed:"
	echo "    run: [sh, -c, 'if [ ! -e \"\$0\" ]; then : >\"\$0\"; kill -9 \$\$\$\$; fi; echo ok >\"\$1/result.txt\"', \"$TMP/killed-once\", \"\${out}\"]"
	echo "    resources: {retries: 1}"
	echo "  after: {run: [stages/bin/toystage, derive, --name, a, --out, \"\${out}\", \"\${data.flaky}\", \"\${data.killed}\"]}"
} >"$TMP/a.yaml"
"$STUDY" run "$TMP/a.yaml" --store "$TMP/sa" -j 2 --json >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "stages that fail once succeed with retries: 1" "$rc:$(cat "$TMP/out")" \
	'0:{"run":1,"status":"ok","ran":3,"cached":0,"failed":0,"interrupted":0,"skipped":0,"not_started":0,"not_selected":0,"forced":0,"retried":2,"stages":3}'
check_eq "each attempt is recorded, the last one as the stage's result" "$(rows "$TMP/sa" 1 | sort)" \
"data/after|ran|
data/flaky|ran|attempt 2 of 2
data/flaky|retried|exit status 3; attempt 1 of 2
data/killed|ran|attempt 2 of 2
data/killed|retried|killed by signal 9 (Killed); attempt 1 of 2"
check_eq "the run counts each stage once" \
	"$(sqlite3 "$TMP/sa/provenance.db" "SELECT ran, cached, failed, skipped FROM runs WHERE id = 1")" "3|0|0|0"
check "the retry is announced with the failed attempt's log" sh -c \
	"grep -q 'retry   data/flaky (.*): exit status 3; attempt 1 of 2; trying again in 1s' '$TMP/err' &&
	 grep -q '| attempt 1 fails' '$TMP/err'"
check "show RUN lists both attempts" sh -c \
	"'$STUDY' show 1 --store '$TMP/sa' | grep -c 'data/flaky ' | grep -qx 2"
check "the failed attempt keeps its logs" sh -c \
	"[ -n \"\$(sqlite3 '$TMP/sa/provenance.db' \"SELECT stderr_digest FROM executions WHERE status = 'retried' AND stage_id = 'data/flaky'\")\" ]"
"$STUDY" run "$TMP/a.yaml" --store "$TMP/sa" >"$TMP/out" 2>"$TMP/err"
check_eq "the next run: cache hits" "$(cat "$TMP/out")" "run 2: ran 0, cached 3, failed 0"
check_eq "verify accepts retried rows" "$("$STUDY" verify --store "$TMP/sa" >/dev/null 2>&1; echo $?)" 0

# retries: 0 (and the default): the first failure is final
rm -f "$TMP/count-a"
sed 's/retries: 1/retries: 0/' "$TMP/a.yaml" >"$TMP/zero.yaml"
"$STUDY" run "$TMP/zero.yaml" --store "$TMP/s0" -j 1 --retries 5 >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "retries: 0 fails at once, --retries does not override it" "$rc:$(cat "$TMP/out")" \
	"1:run 1: ran 0, cached 0, failed 1, skipped 1, not started 1"
check_eq "one failed row, no attempt note" "$(rows "$TMP/s0" 1 | head -n 1)" "data/flaky|failed|exit status 3"
check "no retry announced" sh -c "! grep -q 'retry ' '$TMP/err'"

# no resources.retries: run --retries N decides; a stage failing every attempt fails
rm -f "$TMP/count-a" "$TMP/count-b"
{
	echo "study: cli-retries"
	echo "root: $TOP"
	echo "data:"
	echo "  flaky:"
	flaky a 2
	echo "  never:"
	flaky b 99
} >"$TMP/c.yaml"
"$STUDY" run "$TMP/c.yaml" --store "$TMP/sc" -j 2 --keep-going >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "without --retries a failure is final" "$rc:$(cat "$TMP/out")" "1:run 1: ran 0, cached 0, failed 2"
rm -f "$TMP/count-a" "$TMP/count-b"
"$STUDY" run "$TMP/c.yaml" --store "$TMP/sc" -j 2 --keep-going --retries 1 >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "--retries 1: the flaky stage succeeds, the other fails every attempt" \
	"$rc:$(cat "$TMP/out")" "1:run 2: ran 1, cached 0, failed 1"
check_eq "the stage that never succeeds: both attempts recorded" "$(rows "$TMP/sc" 2 | grep never)" \
"data/never|retried|exit status 3; attempt 1 of 2
data/never|failed|exit status 3; attempt 2 of 2"
check "status gives its last reason" sh -c \
	"'$STUDY' status '$TMP/c.yaml' --store '$TMP/sc' | grep -q 'will run    data/never .*failed last time: exit status 3; attempt 2 of 2'"
check_eq "the run row counts it as one failure" \
	"$(sqlite3 "$TMP/sc/provenance.db" "SELECT ran, failed FROM runs WHERE id = 2")" "1|1"

# an interrupt is not retried: Ctrl-C while a stage waits for its next attempt
rm -f "$TMP/count-b"
{
	echo "study: interrupted"
	echo "root: $TOP"
	echo "data:"
	echo "  never:"
	flaky b 99
	echo "    resources: {retries: 50}"
} >"$TMP/i.yaml"
"$STUDY" run "$TMP/i.yaml" --store "$TMP/si" >"$TMP/out" 2>"$TMP/ierr" &
pid=$!
i=0
while [ $i -lt 100 ] && ! grep -q 'retry   data/never' "$TMP/ierr" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
kill -INT $pid
wait $pid; rc=$?
check_eq "interrupted while retrying: exit 130" "$rc" 130
check_eq "the stage ends interrupted, not failed" "$(rows "$TMP/si" 1 | tail -n 1 | cut -d'|' -f1,2)" \
	"data/never|interrupted"
check "its failed attempts before the interrupt are recorded" sh -c \
	"[ \"\$(sqlite3 '$TMP/si/provenance.db' \"SELECT count(*) FROM executions WHERE status = 'retried'\")\" -ge 1 ]"

# a stage of several steps is retried whole: every step runs again
mkdir -p "$TMP/ms"
cat >"$TMP/ms/s.yaml" <<YAML
study: flaky-steps
root: .
data:
  f:
    run: [[sh, -c, 'echo a >>"\$1"/a; echo x >>"$TMP/ms/first"', x, "\${out}"],
          [sh, -c, 'if [ ! -e "$TMP/ms/c" ]; then touch "$TMP/ms/c"; exit 3; fi; echo b >"\$1"/b', x, "\${out}"]]
    resources: {retries: 1}
YAML
"$STUDY" run "$TMP/ms/s.yaml" --store "$TMP/ms/st" >"$TMP/out" 2>/dev/null
check_eq "multi-step: the second attempt succeeds" "$(cat "$TMP/out")" "run 1: ran 1, cached 0, failed 0"
check_eq "multi-step: both attempts recorded, the failed one naming its step" \
	"$(sqlite3 "$TMP/ms/st/provenance.db" "SELECT status || '|' || reason FROM executions ORDER BY id")" \
	"retried|step 2 of 2 (sh -c) exited with status 3; attempt 1 of 2
ran|attempt 2 of 2"
check_eq "multi-step: step 1 ran once per attempt" "$(wc -l <"$TMP/ms/first")" 2

# bad --retries values
"$STUDY" run "$TMP/c.yaml" --store "$TMP/sc" --retries 101 >/dev/null 2>"$TMP/err"; rc=$?
check_eq "--retries above 100" "$rc:$(cat "$TMP/err")" \
	"2:study: error: --retries wants a number from 0 to 100, not '101'"
"$STUDY" run "$TMP/c.yaml" --store "$TMP/sc" --retries=-1 >/dev/null 2>"$TMP/err"; rc=$?
check_eq "--retries negative" "$rc:$(cat "$TMP/err")" \
	"2:study: error: --retries wants a number from 0 to 100, not '-1'"
done_testing
