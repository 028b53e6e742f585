#!/bin/sh
# End to end on the test cluster (root and tests/slurm/up.sh's cluster, else
# SKIP): slurmctld stopped while a run has two jobs running and four queued,
# and started again 14 seconds later (longer than squeue's own retries,
# about 9 s). While it is down the run cannot ask about its jobs: it says so
# once, keeps waiting, submits nothing, and says when SLURM answers again; the controller recovers the queue from its
# saved state; the run then completes, every stage recorded once, and the
# store verifies.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/slurm/lib.sh"
cd "$TOP"
slurm_or_skip "slurmctld restarted with jobs queued"
own_cluster_or_skip "slurmctld restarted with jobs queued"
plain_only "slurmctld restarted with jobs queued"
TOY=${TOY_BIN_DIR:-$TOP/stages/bin}/toystage
S="$TMP/s"
half=$(( $(sinfo -h -N -o %c | sort -n | tail -n 1) / 2 ))
{
	echo "study: slurmctld"
	echo "root: $TOP"
	echo "data:"
	for i in 1 2 3 4 5 6; do
		# each takes half the node: two run (long enough to be running
		# still when slurmctld stops), four wait
		secs=4
		echo "  d$i: {run: [[\"$TOY\", sleep, --seconds, \"$secs\", --out, \"\${out}\"],"
		echo "        [\"$TOY\", derive, --name, d$i, --out, \"\${out}\"]], resources: {cpus: $half}}"
	done
	echo "report:"
	echo "  run: [\"$TOY\", derive, --name, r, --out, \"\${out}\", \"\${data.d1}\", \"\${data.d6}\"]"
} >"$TMP/c.yaml"
"$STUDY" run "$TMP/c.yaml" --store "$S" --executor slurm >"$TMP/out" 2>"$TMP/err" &
pid=$!
states() { for i in 1 2 3 4 5 6; do job_state "$(job_of "$S" data/d$i)"; done | sort | uniq -c | xargs; }
n=0
while [ "$(states)" != "4 PENDING 2 RUNNING" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
check_eq "two jobs run, four are queued" "$(states)" "4 PENDING 2 RUNNING"
c=$(daemon_pid slurmctld)
kill -TERM "$c"
check "slurmctld stops" wait_for 15 sh -c "! kill -0 $c 2>/dev/null || grep -q '^[0-9]* ([^)]*) Z' /proc/$c/stat"
sleep 14
sh tests/slurm/up.sh >"$TMP/up" 2>&1
check_eq "slurmctld started again" "$?" 0
n=0
while kill -0 $pid 2>/dev/null && [ $n -lt 900 ]; do sleep 0.1; n=$((n + 1)); done
kill $pid 2>/dev/null
wait $pid
check_eq "the run completes" "$?" 0
check_eq "... every stage ran" "$(sed 's/^run [0-9]*: //' "$TMP/out")" "ran 7, cached 0, failed 0"
check_eq "... once, each its own job" \
	"$(q "$S" "SELECT count(*) || ' ' || count(DISTINCT job_id) FROM executions")" "7 7"
check "the run said it could not reach SLURM" \
	grep -q '^study: warning: cannot ask SLURM about the jobs: squeue failed: ' "$TMP/err"
check "... and that SLURM answers again" grep -q '^study: SLURM answers again$' "$TMP/err"
"$STUDY" verify --store "$S" >/dev/null 2>&1
check_eq "the store verifies" "$?" 0
done_testing
