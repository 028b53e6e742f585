#!/bin/sh
# End to end on a real SLURM cluster (SKIP without one): each way a job can
# fail ends with a clear record. A failing stage (its exit status and log),
# a failing step of a multi-step stage, a stage over its resources.time (the
# orchestrator stops it at the limit), a stage over its resources.mem
# (SLURM's OUT_OF_MEMORY), a job whose SLURM time limit passes (SLURM's
# TIMEOUT: the limit lowered by `scontrol update TimeLimit=0`, so that SLURM
# enforces it within seconds rather than minutes), with and without a
# resources.time of its own, a job someone else cancels (scancel). The store verifies, and a rerun of the fixed
# study completes, with the stage that had succeeded cached.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/slurm/lib.sh"
cd "$TOP"
slurm_or_skip "failing SLURM jobs"
TOY=${TOY_BIN_DIR:-$TOP/stages/bin}/toystage
S="$TMP/s"
node=$(sinfo -h -N -o %N | head -n 1)
cgroup=0
scontrol show config 2>/dev/null | grep -q 'TaskPlugin .*task/cgroup' && cgroup=1

study() { # study FIXED(0/1): the study, broken or fixed
	if [ "$1" = 1 ]; then
		bad='"--code", "0"' hog=4 slow=0 long=0
	else
		bad='"--code", "3"' hog=300 slow=30 long=120
	fi
	cat >"$TMP/f.yaml" <<YAML
study: failures
root: $TOP
data:
  ok: {run: ["$TOY", sleep, --seconds, "0", --out, "\${out}"]}
  bad: {run: [["$TOY", fail, $bad], ["$TOY", sleep, --seconds, "0", --out, "\${out}"]]}
  steps:
    run: [["$TOY", sleep, --seconds, "0", --out, "\${out}"], ["$TOY", fail, $bad]]
  slow: {run: ["$TOY", sleep, --seconds, "$slow", --out, "\${out}"], resources: {time: 2s}}
  hog: {run: ["$TOY", memhog, --mib, "$hog", --out, "\${out}"], resources: {mem: 20M}}
  long: {run: ["$TOY", sleep, --seconds, "$long", --out, "\${out}"]}
  backstop: {run: ["$TOY", sleep, --seconds, "$long", --out, "\${out}"], resources: {time: 10m}}
  cancelled: {run: ["$TOY", sleep, --seconds, "$long", --out, "\${out}"]}
YAML
}
# the program as a step's label shows it (at most 40 characters)
label=$(printf '%s\n' "$TOY" | awk '{ if (length($0) > 40) print substr($0, 1, 37) "..."; else print }')
reason() { q "$S" "SELECT reason FROM executions WHERE run_id = 1 AND stage_id = 'data/$1'"; }

study 0
"$STUDY" run "$TMP/f.yaml" --store "$S" --executor slurm -k >"$TMP/out" 2>"$TMP/err" &
pid=$!
# SLURM's own time limit, reached now: both long jobs end as TIMEOUT
if wait_for 30 running "$S" data/long && wait_for 30 running "$S" data/backstop; then
	scontrol update jobid="$(job_of "$S" data/long)" TimeLimit=0 &&
		scontrol update jobid="$(job_of "$S" data/backstop)" TimeLimit=0
	check_eq "scontrol lowers the two jobs' time limit" "$?" 0
else
	notok "the two long jobs run"
fi
# someone else cancels a job
if wait_for 30 running "$S" data/cancelled; then
	scancel "$(job_of "$S" data/cancelled)"
fi
n=0
while kill -0 $pid 2>/dev/null && [ $n -lt 900 ]; do sleep 0.1; n=$((n + 1)); done
kill $pid 2>/dev/null
wait $pid
check_eq "the run fails (exit 1)" "$?" 1
check_eq "... one stage ran, seven failed" "$(sed 's/^run [0-9]*: //' "$TMP/out")" \
	"ran 1, cached 0, failed 7"
check_eq "a failing stage: its exit status" "$(reason bad)" \
	"step 1 of 2 ($label fail) exited with status 3"
check "... and its log's tail is printed" grep -q 'failing on purpose' "$TMP/err"
check_eq "... and stored" \
	"$(cat "$S/objects/$(q "$S" "SELECT substr(stderr_digest, 1, 2) || '/' || stderr_digest
		FROM executions WHERE stage_id = 'data/bad'")")" "toystage: failing on purpose"
check_eq "a failing step of a multi-step stage" "$(reason steps)" \
	"step 2 of 2 ($label fail) exited with status 3"
job=$(q "$S" "SELECT job_id FROM executions WHERE stage_id = 'data/slow'")
check_eq "over resources.time: stopped at the limit" "$(reason slow)" \
	"timed out after 2s (resources.time), killed (SLURM job $job cancelled at the limit)"
check_eq "... timed_out recorded, TERM first" \
	"$(q "$S" "SELECT timed_out || ' ' || term_signal || ' ' || (wall_s >= 2 AND wall_s < 4)
		FROM executions WHERE stage_id = 'data/slow'")" "1 15 1"
if [ $cgroup = 1 ]; then
	check_eq "over resources.mem: SLURM's OUT_OF_MEMORY" "$(reason hog)" \
		"over memory limit (resources.mem 20M; SLURM: OUT_OF_MEMORY on node $node), killed"
	check_eq "... over_memory recorded, enforced by SLURM" \
		"$(q "$S" "SELECT over_memory || ' ' || mem_enforcement FROM executions WHERE stage_id = 'data/hog'")" \
		"1 slurm"
else
	ok "over resources.mem # SKIP the cluster does not enforce --mem (no task/cgroup)"
	ok "over_memory recorded # SKIP the cluster does not enforce --mem"
fi
check_eq "SLURM's time limit: its own reason" "$(reason long)" "over time limit (SLURM: TIMEOUT)"
check_eq "SLURM's time limit before resources.time: timed out, SLURM says so" \
	"$(reason backstop)" "timed out after 600s (resources.time), killed (SLURM: TIMEOUT at --time=10)"
check_eq "a job cancelled by someone else" "$(reason cancelled)" "cancelled (SLURM: CANCELLED)"
check_eq "every failure has its job id" \
	"$(q "$S" "SELECT count(*) FROM executions WHERE run_id = 1 AND job_id > 0")" 8
check_eq "no job is left" \
	"$(q "$S" "SELECT group_concat(job_id, ',') FROM executions" | xargs -I{} squeue -h -j {} -O JobID | wc -l)" 0
"$STUDY" verify --store "$S" >"$TMP/verify" 2>&1
check_eq "the store verifies" "$?" 0

study 1
out=$("$STUDY" run "$TMP/f.yaml" --store "$S" --executor slurm 2>"$TMP/err2")
check_eq "the fixed study reruns: the failed stages run, the one that ran is cached" \
	"$(echo "$out" | sed 's/^run [0-9]*: //')" "ran 7, cached 1, failed 0"
done_testing
