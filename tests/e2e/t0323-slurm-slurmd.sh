#!/bin/sh
# End to end on the test cluster (root and tests/slurm/up.sh's cluster, else
# SKIP): slurmd killed (SIGKILL) while two jobs run, and restarted. The jobs'
# processes (slurmstepd) go on; the stages end while slurmd is down, and the
# run notices from the launchers' reports even though SLURM keeps the jobs
# COMPLETING until slurmd is back; a stage submitted meanwhile runs once the
# node is back. The run completes with every stage recorded, and the store
# verifies.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/slurm/lib.sh"
cd "$TOP"
slurm_or_skip "slurmd killed and restarted mid-job"
own_cluster_or_skip "slurmd killed and restarted mid-job"
plain_only "slurmd killed and restarted mid-job"
TOY=${TOY_BIN_DIR:-$TOP/stages/bin}/toystage
S="$TMP/s"
cat >"$TMP/d.yaml" <<YAML
study: slurmd
root: $TOP
data:
  a: {run: [["$TOY", sleep, --seconds, "3", --out, "\${out}"], ["$TOY", derive, --name, a, --out, "\${out}"]]}
  b: {run: [["$TOY", sleep, --seconds, "3", --out, "\${out}"], ["$TOY", derive, --name, b, --out, "\${out}"]]}
models:
  m: {run: ["$TOY", derive, --name, m, --out, "\${out}", "\${data.a}", "\${data.b}"]}
YAML
"$STUDY" run "$TMP/d.yaml" --store "$S" --executor slurm >"$TMP/out" 2>"$TMP/err" &
pid=$!
wait_for 30 running "$S" data/a && wait_for 30 running "$S" data/b
d=$(daemon_pid slurmd)
check "slurmd runs (pid $d)" sh -c "[ -n '$d' ]"
kill -KILL "$d"
a=$(job_of "$S" data/a)
check "the job goes on without slurmd and stays COMPLETING" \
	wait_for 15 sh -c "[ \"\$(squeue -h -j $a -t all -O State: | tr -d ' ')\" = COMPLETING ]"
check "... the run sees its stages end and submits the next" wait_for 15 sh -c \
	"[ -n \"\$(cat '$S'/work/*/job 2>/dev/null | grep ' model/m\$' | grep -v ' - ')\" ]"
sleep 1
sh tests/slurm/up.sh >"$TMP/up" 2>&1
check_eq "slurmd restarted" "$?" 0
n=0
while kill -0 $pid 2>/dev/null && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
kill $pid 2>/dev/null
wait $pid
check_eq "the run completes" "$?" 0
check_eq "... every stage ran" "$(sed 's/^run [0-9]*: //' "$TMP/out")" "ran 3, cached 0, failed 0"
check_eq "... each with its job id" \
	"$(q "$S" "SELECT count(DISTINCT job_id) FROM executions WHERE status = 'ran'")" 3
check_eq "the stages that ran through the outage took their whole time" \
	"$(q "$S" "SELECT count(*) FROM executions WHERE stage_id LIKE 'data/%' AND wall_s >= 3")" 2
"$STUDY" verify --store "$S" >/dev/null 2>&1
check_eq "the store verifies" "$?" 0
check "the node takes jobs again" wait_for 30 sh -c "sinfo -h -o %T | grep -qE '^(idle|mixed|allocated)'"
done_testing
