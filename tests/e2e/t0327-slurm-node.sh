#!/bin/sh
# End to end on the test cluster (root and tests/slurm/up.sh's cluster, else
# SKIP): SLURM ends a job for reasons of its own, and each is recorded as
# itself. A job in the partition "low" is preempted by a job of a higher
# partition that needs its CPUs (PreemptMode=CANCEL): "preempted (SLURM:
# PREEMPTED)". The node a job runs on goes down (scontrol ... state=down):
# "node failure (SLURM: NODE_FAIL) on node N". Neither is retried by SLURM
# (--no-requeue), and the node is usable again afterwards.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/slurm/lib.sh"
cd "$TOP"
slurm_or_skip "preemption and node failure"
own_cluster_or_skip "preemption and node failure"
TOY=${TOY_BIN_DIR:-$TOP/stages/bin}/toystage
node=$(sinfo -h -N -o %N | head -n 1)
cpus=$(sinfo -h -N -o %c | sort -n | tail -n 1)
cat >"$TMP/n.yaml" <<YAML
study: node
root: $TOP
data:
  whole: {run: ["$TOY", sleep, --seconds, "60", --out, "\${out}"], resources: {cpus: $cpus}}
YAML
reason() { q "$1" "SELECT reason FROM executions WHERE stage_id = 'data/whole'"; }

# preemption: the stage's job runs in "low"; a job of "debug" needs its CPUs
S="$TMP/pre"
"$STUDY" run "$TMP/n.yaml" --store "$S" --executor slurm --partition low >"$TMP/out" 2>"$TMP/err" &
pid=$!
if wait_for 30 running "$S" data/whole; then
	sbatch --parsable -p debug -c "$cpus" -o /dev/null --wrap true >/dev/null
fi
wait_for 60 sh -c "! kill -0 $pid 2>/dev/null"
kill $pid 2>/dev/null
wait $pid
check_eq "a preempted job fails the run" "$?" 1
check_eq "... recorded as preempted" "$(reason "$S")" "preempted (SLURM: PREEMPTED)"
check_eq "... in the partition it ran in" "$(q "$S" "SELECT queue FROM executions")" low

# node failure: the node goes down under the job
S="$TMP/down"
"$STUDY" run "$TMP/n.yaml" --store "$S" --executor slurm >"$TMP/out" 2>"$TMP/err" &
pid=$!
if wait_for 30 running "$S" data/whole; then
	scontrol update nodename="$node" state=down reason=study-t0327
fi
wait_for 60 sh -c "! kill -0 $pid 2>/dev/null"
kill $pid 2>/dev/null
wait $pid
check_eq "a node failure fails the run" "$?" 1
check_eq "... recorded as a node failure, naming the node" "$(reason "$S")" \
	"node failure (SLURM: NODE_FAIL) on node $node"
check "the failure is printed" grep -q "failed  data/whole.*node failure (SLURM: NODE_FAIL) on node $node" "$TMP/err"
sh tests/slurm/up.sh >/dev/null 2>&1
check "the node takes jobs again" wait_for 30 sh -c "sinfo -h -o %T | grep -qE '^(idle|mixed|allocated)'"
done_testing
