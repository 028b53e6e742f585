#!/bin/sh
# Regression (issue 11, kind 4): every stage a run considers is accounted for.
# ran + cached + failed + interrupted + skipped + not started = the plan, in
# the summary, --json, `show RUN` and the database; skipped and not-started
# stages have provenance rows; an interrupt is not a stage failure, and the
# exit status is 128 + the signal, as shells report it.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
S="$TMP/store"
cat >"$TMP/f.yaml" <<YAML
study: failing
root: $TOP
models:
  bad: {run: [stages/bin/toystage, fail, --code, "7"]}
  good: {run: [stages/bin/toystage, derive, --name, good, --out, "\${out}"]}
methods:
  halve: {run: [stages/bin/toystage, derive, --name, halve, --out, "\${out}", "\${model}"]}
evaluations:
  acc: {run: [stages/bin/toystage, derive, --name, acc, --out, "\${out}", "\${model}"]}
YAML
"$STUDY" run "$TMP/f.yaml" --store "$S" -j 1 >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "a failure without --keep-going exits 1" "$rc" 1
check_eq "the summary adds up to the 8 stages" "$(cat "$TMP/out")" \
	"run 1: ran 0, cached 0, failed 1, skipped 3, not started 4"
check "it says why stages did not start, and what to do" grep -qx \
	"study: 4 stages not started after the first failure; use --keep-going to run the stages that do not depend on it" \
	"$TMP/err"
check_eq "every stage has a row with its status and reason" \
	"$(sqlite3 "$S/provenance.db" "SELECT stage_id || '|' || status || '|' || reason FROM executions WHERE run_id = 1 ORDER BY id")" \
"model/bad|failed|exit status 7
method/halve/bad|skipped|upstream 'model/bad' failed
eval/acc/bad/base|skipped|upstream 'model/bad' failed
eval/acc/bad/halve|skipped|upstream 'model/bad' failed
model/good|not-started|not started: the run stopped after the first failure (use --keep-going to run the stages that do not depend on it)
method/halve/good|not-started|not started: the run stopped after the first failure (use --keep-going to run the stages that do not depend on it)
eval/acc/good/base|not-started|not started: the run stopped after the first failure (use --keep-going to run the stages that do not depend on it)
eval/acc/good/halve|not-started|not started: the run stopped after the first failure (use --keep-going to run the stages that do not depend on it)"
check "show RUN counts them all" grep -qx \
	"  stages     ran 0, cached 0, failed 1, interrupted 0, skipped 3, not started 4" \
	"$("$STUDY" show 1 --store "$S" >"$TMP/show"; echo "$TMP/show")"
check "log lists them all" sh -c "'$STUDY' log --store '$S' | grep -q 'ran 0, cached 0, failed 1, skipped 3, not started 4'"
check "show --json counts them all" json_has "$("$STUDY" show 1 --store "$S" --json)" not_started 4
"$STUDY" run "$TMP/f.yaml" --store "$S" -j 1 --json >"$TMP/out" 2>/dev/null
check_eq "run --json counts them all" "$(cat "$TMP/out")" \
	'{"run":2,"status":"failed","ran":0,"cached":0,"failed":1,"interrupted":0,"skipped":3,"not_started":4,"not_selected":0,"forced":0,"retried":0,"stages":8}'
"$STUDY" run "$TMP/f.yaml" --store "$S" -j 1 --keep-going >"$TMP/out" 2>/dev/null
check_eq "with --keep-going nothing is left unstarted" "$(cat "$TMP/out")" \
	"run 3: ran 4, cached 0, failed 1, skipped 3"
check_eq "verify accepts the new rows" "$("$STUDY" verify --store "$S" >/dev/null 2>&1; echo $?)" 0

# an interrupt: the running stage is 'interrupted', not failed; the rest did not start
cat >"$TMP/slow.yaml" <<YAML
study: slow
root: $TOP
data:
  a: {run: [stages/bin/toystage, sleep, --seconds, "30", --out, "\${out}"]}
  b: {run: [stages/bin/toystage, gen, --seed, "1", --n, "8", --out, "\${out}"]}
  c: {run: [stages/bin/toystage, derive, --name, c, --out, "\${out}", "\${data.a}"]}
YAML
for sig in INT TERM; do
	T="$TMP/st-$sig"
	# not the last iteration's log: the wait below would see its "start" line
	# before the new run truncates the file, and signal a run still starting
	rm -f "$TMP/err"
	"$STUDY" run "$TMP/slow.yaml" --store "$T" -j 1 >"$TMP/out" 2>"$TMP/err" &
	pid=$!
	for _ in $(seq 1 100); do
		grep -q 'start   data/a' "$TMP/err" 2>/dev/null && break
		sleep 0.05
	done
	kill -"$sig" "$pid"; wait "$pid"; rc=$?
	want=130; [ "$sig" = TERM ] && want=143
	check_eq "SIG$sig: exit status $want" "$rc" "$want"
	check_eq "SIG$sig: the summary adds up" "$(cat "$TMP/out")" \
		"run 1: ran 0, cached 0, failed 0, interrupted 1, not started 2"
	check_eq "SIG$sig: rows" \
		"$(sqlite3 "$T/provenance.db" "SELECT stage_id || '|' || status || '|' || reason FROM executions ORDER BY id; SELECT status FROM runs")" \
"data/a|interrupted|interrupted: the run received SIG$sig (killed by signal 15 (Terminated))
data/b|not-started|not started: the run was interrupted
data/c|not-started|not started: the run was interrupted
interrupted"
done

# a stage that saves something and exits 0 when the interrupt's TERM reaches it:
# still interrupted, and nothing of it is cached
cat >"$TMP/grace.yaml" <<YAML
study: grace
root: $TOP
data:
  grace: {run: [sh, -c, 'trap "echo partial >\"\$STUDY_OUT/x\"; exit 0" TERM; while :; do sleep 0.1; done']}
YAML
T="$TMP/st-grace"
"$STUDY" run "$TMP/grace.yaml" --store "$T" >"$TMP/out" 2>"$TMP/err" &
pid=$!
for _ in $(seq 1 100); do
	grep -q 'start   data/grace' "$TMP/err" 2>/dev/null && break
	sleep 0.05
done
sleep 0.3
kill -INT "$pid"; wait "$pid"; rc=$?
check_eq "exit 0 after the interrupt's TERM: exit status 130" "$rc" 130
check_eq "... recorded interrupted, nothing kept" \
	"$(sqlite3 "$T/provenance.db" "SELECT status || '|' || reason || '|' || ifnull(output_digest, '-') FROM executions")" \
	"interrupted|interrupted: the run received SIGINT (stopped with TERM, it exited with status 0; what it wrote is not kept)|-"
check_eq "... and no cache entry" "$(find "$T/cache" -type l | wc -l)" 0
check "... so status says it will run" sh -c "'$STUDY' status '$TMP/grace.yaml' --store '$T' | grep -q '^will run    data/grace .*interrupted last time'"

# a run killed with SIGKILL: the next run marks it interrupted with the counts of
# the rows it committed
T="$TMP/st-kill"
"$STUDY" run "$TMP/slow.yaml" --store "$T" -j 2 >/dev/null 2>"$TMP/err" &
pid=$!
for _ in $(seq 1 100); do
	grep -q 'ran     data/b' "$TMP/err" 2>/dev/null && break
	sleep 0.05
done
sleep 0.3
kill -9 "$pid"; wait "$pid" 2>/dev/null
timeout 1 "$STUDY" run "$TMP/slow.yaml" --store "$T" -j 2 >/dev/null 2>&1 # marks run 1
check_eq "a SIGKILLed run, marked interrupted later, counts what it committed" \
	"$(sqlite3 "$T/provenance.db" "SELECT status || ' ran ' || ran FROM runs WHERE id = 1")" \
	"interrupted ran 1"
done_testing
