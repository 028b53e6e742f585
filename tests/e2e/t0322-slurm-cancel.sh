#!/bin/sh
# End to end on a real SLURM cluster (SKIP without one): stopping a run.
# SIGINT (Ctrl-C) and SIGTERM cancel the run's jobs, running and queued
# (scancel), and the run exits 128+N with each stage recorded as
# interrupted: a running one by the signal it got, a queued one "cancelled
# before it started". A run killed with SIGKILL leaves its jobs running and
# their ids recorded (provenance's table jobs, which `show RUN` lists, and
# notes in the work directories); the next run cancels them (and says so)
# before it starts anything (a local run too), so that no stage ever has two
# jobs at once; it then completes.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/slurm/lib.sh"
cd "$TOP"
slurm_or_skip "stopping a SLURM run"
TOY=${TOY_BIN_DIR:-$TOP/stages/bin}/toystage
cpus=$(sinfo -h -N -o %c | sort -n | tail -n 1)

cat >"$TMP/c.yaml" <<YAML
study: cancel
root: $TOP
data:
  a: {run: ["$TOY", sleep, --seconds, "\${params.s}", --out, "\${out}"], params: {s: 60}}
  b: {run: ["$TOY", sleep, --seconds, "\${params.s}", --out, "\${out}"], params: {s: 60}}
  # as many cpus as the largest node has: it waits in the queue behind a and b
  queued:
    run: ["$TOY", sleep, --seconds, "\${params.s}", --out, "\${out}"]
    params: {s: 60}
    resources: {cpus: $cpus}
YAML
active() { # active STORE: how many of its jobs SLURM still runs or queues
	n=0
	for st in data/a data/b data/queued; do
		id=$(job_of "$1" $st)
		[ -z "$id" ] && continue
		case $(job_state "$id") in PENDING | RUNNING | COMPLETING | CONFIGURING) n=$((n + 1)) ;; esac
	done
	echo $n
}
none_active() { [ "$(active "$1")" = 0 ]; }

for sig in INT TERM; do
	S="$TMP/s$sig"
	"$STUDY" run "$TMP/c.yaml" --store "$S" --executor slurm -k >"$TMP/out" 2>"$TMP/err" &
	pid=$!
	wait_for 30 running "$S" data/a && wait_for 30 running "$S" data/b
	check_eq "SIG$sig: three jobs submitted, two running" "$(active "$S")" 3
	kill -$sig $pid
	wait $pid
	rc=$?
	want=130
	[ $sig = TERM ] && want=143
	check_eq "SIG$sig: the run exits $want" "$rc" "$want"
	check "SIG$sig: every job has ended" wait_for 15 none_active "$S"
	check_eq "SIG$sig: the summary counts three interrupted stages" \
		"$(sed 's/^run [0-9]*: //' "$TMP/out")" "ran 0, cached 0, failed 0, interrupted 3"
	check_eq "SIG$sig: a running job: stopped by TERM" \
		"$(q "$S" "SELECT status || ': ' || reason FROM executions WHERE stage_id = 'data/a'")" \
		"interrupted: interrupted: the run received SIG$sig (killed by signal 15 (Terminated))"
	check_eq "SIG$sig: the queued job: cancelled before it started" \
		"$(q "$S" "SELECT reason FROM executions WHERE stage_id = 'data/queued'")" \
		"interrupted: the run received SIG$sig (cancelled before it started (SLURM: CANCELLED))"
done

# SIGKILL: the jobs outlive the run; the next run cancels them first
S="$TMP/skill"
"$STUDY" run "$TMP/c.yaml" --store "$S" --executor slurm -k >/dev/null 2>&1 &
pid=$!
wait_for 30 running "$S" data/a && wait_for 30 running "$S" data/b
kill -KILL $pid
wait $pid 2>/dev/null
old_a=$(job_of "$S" data/a)
check_eq "SIGKILL: the jobs outlive the run" "$(active "$S")" 3
check "... their ids are noted in the work directories" sh -c "[ -n '$old_a' ]"
check_eq "... and in provenance (table jobs)" \
	"$(q "$S" "SELECT group_concat(job_id, ' ') FROM (SELECT job_id FROM jobs WHERE run_id = 1
		ORDER BY CAST(job_id AS INTEGER))")" \
	"$(for st in data/a data/b data/queued; do job_of "$S" $st; done | sort -n | xargs)"
sed 's/s: 60/s: 0/' "$TMP/c.yaml" >"$TMP/c2.yaml"
# the rerun of a (same key as the killed run's a: its params did not change)
"$STUDY" run "$TMP/c.yaml" --store "$S" --executor slurm data/a >"$TMP/out" 2>"$TMP/err" &
pid=$!
wait_for 30 sh -c "[ -n \"\$(cat '$S'/work/*/job 2>/dev/null | grep ' data/a\$' | grep -v ' $old_a ')\" ]"
new_a=$(job_of "$S" data/a)
check "the next run submits data/a again (job $new_a)" sh -c "[ -n '$new_a' ] && [ '$new_a' != '$old_a' ]"
st=$(job_state "$old_a")
check "... only once the killed run's job for it had ended (it is $st)" \
	sh -c "case '$st' in CANCELLED | FAILED | COMPLETED) exit 0 ;; esac; exit 1"
check "... and said it cancelled the three jobs left" \
	grep -q "^study: cancelling 3 SLURM jobs an earlier run left queued or running: " "$TMP/err"
kill -INT $pid
wait $pid
"$STUDY" run "$TMP/c2.yaml" --store "$S" --executor slurm >"$TMP/out" 2>/dev/null
check_eq "a rerun completes" "$(sed 's/^run [0-9]*: //' "$TMP/out")" "ran 3, cached 0, failed 0"
check_eq "the killed run is recorded as interrupted" \
	"$(q "$S" "SELECT status FROM runs WHERE id = 1")" interrupted
"$STUDY" show 1 --store "$S" >"$TMP/show1"
check "show RUN lists the jobs it did not see end" grep -qE \
	"^  jobs       3 slurm jobs submitted; not seen to end \(the run stopped first\): [0-9]+ \(data/[a-z]+\), [0-9]+ \(data/[a-z]+\), [0-9]+ \(data/[a-z]+\)$" \
	"$TMP/show1"
"$STUDY" show 1 --store "$S" --json >"$TMP/show1.json"
check "show RUN --json has them too" grep -q "\"job_id\":[[:space:]]*\"$old_a\"" "$TMP/show1.json"
"$STUDY" show 2 --store "$S" >"$TMP/show2"
check "a run that saw its job end lists none as left" grep -qE '^  jobs       1 slurm job submitted$' "$TMP/show2"
"$STUDY" verify --store "$S" >/dev/null 2>&1
check_eq "the store verifies" "$?" 0

# SIGKILL, then a local run on the same store: it cancels the jobs too
S="$TMP/skill2"
"$STUDY" run "$TMP/c.yaml" --store "$S" --executor slurm -k >/dev/null 2>&1 &
pid=$!
wait_for 30 running "$S" data/a && wait_for 30 running "$S" data/b
kill -KILL $pid
wait $pid 2>/dev/null
"$STUDY" run "$TMP/c2.yaml" --store "$S" --executor local -j "$cpus" >"$TMP/out" 2>"$TMP/err"
check_eq "after a killed SLURM run, a local run completes" \
	"$(sed 's/^run [0-9]*: //' "$TMP/out")" "ran 3, cached 0, failed 0"
check "... having cancelled the SLURM jobs first" \
	grep -q "^study: cancelling 3 SLURM jobs an earlier run left queued or running: " "$TMP/err"
check_eq "... which have all ended" "$(active "$S")" 0
done_testing
