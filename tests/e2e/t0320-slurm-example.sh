#!/bin/sh
# End to end on a real SLURM cluster (tests/slurm/up.sh; SKIP without one):
# the example study via `--executor slurm` gives the same cache keys and
# output digests as the local executor, one job per stage, each recorded
# with its job id, node, partition and queue wait, which `show` prints; a
# rerun submits nothing. Resources become sbatch options (cpus, mem, time in
# whole minutes rounded up, gres); argv reaches the stage byte for byte; the
# study file's executor: block chooses SLURM and a partition, the command
# line overrides it, and neither changes a cache key.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/slurm/lib.sh"
cd "$TOP"
slurm_or_skip "the example study via SLURM"
TOY=${TOY_BIN_DIR:-$TOP/stages/bin}/toystage
L="$TMP/local" S="$TMP/slurm"

"$STUDY" run studies/example.yaml --store "$L" -j 2 >/dev/null 2>&1
check_eq "the example study runs locally" "$?" 0
out=$("$STUDY" run studies/example.yaml --store "$S" --executor slurm 2>"$TMP/err"); rc=$?
check_eq "the example study runs via SLURM" "$rc" 0
check_eq "... every stage ran" "$(echo "$out" | sed 's/^run [0-9]*: //')" "ran 26, cached 0, failed 0"
keys="SELECT stage_id, cache_key, output_digest FROM executions WHERE status = 'ran' ORDER BY stage_id"
check_eq "same cache keys and output digests as the local executor" "$(q "$S" "$keys")" "$(q "$L" "$keys")"
check_eq "one SLURM job per stage, each recorded" \
	"$(q "$S" "SELECT count(DISTINCT job_id) || ' ' || count(*) FROM executions
		WHERE executor = 'slurm' AND job_id > 0 AND host <> '' AND queue_wait_s >= 0")" "26 26"
node=$(sinfo -h -N -o %N | head -n 1)
part=$(sinfo -h -o %P | sed -n 's/\*$//p' | head -n 1)
check_eq "node and partition recorded" \
	"$(q "$S" "SELECT DISTINCT host || ' ' || queue FROM executions")" "$node $part"
job=$(q "$S" "SELECT job_id FROM executions WHERE stage_id = 'model/small'")
check "show prints the job, node, partition and queue wait" \
	grep -qE "^job +slurm job $job on node $node, partition $part, queued [0-9.]+s" \
	"$("$STUDY" show model/small --store "$S" >"$TMP/show"; echo "$TMP/show")"
"$STUDY" show model/small --store "$S" --json >"$TMP/show.json"
check "show --json has executor, job_id, host, queue, queue_wait_s" sh -c \
	"grep -q '\"executor\":[[:space:]]*\"slurm\"' '$TMP/show.json' &&
	 grep -q '\"job_id\":[[:space:]]*\"$job\"' '$TMP/show.json' &&
	 grep -q '\"queue\":[[:space:]]*\"$part\"' '$TMP/show.json' &&
	 grep -q '\"queue_wait_s\":[[:space:]]*[0-9]' '$TMP/show.json'"
check "the job's stdout and stderr are stored like a local stage's" \
	grep -q '^stderr ' "$TMP/show"
check "no work directories left behind" sh -c "[ -z \"\$(ls -A '$S/work')\" ]"
out=$("$STUDY" run studies/example.yaml --store "$S" --executor slurm 2>/dev/null)
check_eq "a rerun via SLURM submits nothing" "$(echo "$out" | sed 's/^run [0-9]*: //')" \
	"ran 0, cached 26, failed 0"

# resources -> sbatch options; argv byte for byte
cat >"$TMP/r.yaml" <<YAML
study: res
root: $TOP
data:
  sized:
    run: ["/bin/sh", "-c", "echo \$SLURM_CPUS_PER_TASK \$SLURM_MEM_PER_NODE >\$STUDY_OUT/res"]
    resources: {cpus: 2, mem: 100M, time: 61s}
  args:
    run: ["$TOY", argv, --out, "\${out}", "a b", "", "\$HOME", "*", "it's", "q\"uote", "--x=1;2", "\\\\back"]
YAML
"$STUDY" run "$TMP/r.yaml" --store "$TMP/r" --executor slurm >/dev/null 2>&1
check_eq "a study with resources runs via SLURM" "$?" 0
check_eq "cpus -> --cpus-per-task, mem -> --mem (MiB)" \
	"$(cat "$TMP"/r/out/*/res 2>/dev/null)" "2 100"
id=$(q "$TMP/r" "SELECT job_id FROM executions WHERE stage_id = 'data/sized'")
check_eq "time 61s -> --time=2 (whole minutes, rounded up)" \
	"$(squeue -h -t all -j "$id" -O 'TimeLimit:' | tr -d ' ')" "2:00"
"$STUDY" run "$TMP/r.yaml" --store "$TMP/rl" 'data/args' >/dev/null 2>&1
check_eq "argv reaches the stage byte for byte (same output as locally)" \
	"$(q "$TMP/r" "SELECT output_digest FROM executions WHERE stage_id = 'data/args'")" \
	"$(q "$TMP/rl" "SELECT output_digest FROM executions WHERE stage_id = 'data/args'")"

# gpus -> --gres=gpu:N (SLURM names the device in CUDA_VISIBLE_DEVICES)
if sinfo -h -o %G | grep -q 'gpu:'; then
	cat >"$TMP/g.yaml" <<YAML
study: gpu
root: $TOP
data:
  g:
    run: ["/bin/sh", "-c", "echo \$CUDA_VISIBLE_DEVICES >\$STUDY_OUT/cvd"]
    resources: {gpus: 1}
YAML
	"$STUDY" run "$TMP/g.yaml" --store "$TMP/g" --executor slurm >/dev/null 2>&1
	cvd=$(cat "$TMP"/g/out/*/cvd 2>/dev/null)
	check "gpus: 1 -> --gres=gpu:1: the job sees one GPU (got '$cvd')" \
		sh -c "[ '$cvd' = 0 ] || [ '$cvd' = 1 ]"
else
	ok "gpus -> --gres=gpu:N # SKIP the cluster has no gres/gpu"
fi

# the study file's executor: block; the command line wins; no cache key changes
other=$(sinfo -h -o %P | grep -v '\*$' | head -n 1)
[ -n "$other" ] || other=$part
{ cat studies/example.yaml; printf 'executor:\n  name: slurm\n  partition: %s\n' "$other"; } |
	{ echo "root: $TOP"; grep -v '^root:'; } >"$TMP/x.yaml"
"$STUDY" run "$TMP/x.yaml" --store "$TMP/x" 'data/corpus' >/dev/null 2>&1
check_eq "executor: {name: slurm, partition: $other} runs the study via SLURM there" \
	"$(q "$TMP/x" "SELECT executor || ' ' || queue FROM executions")" "slurm $other"
check_eq "... with the cache key of a local run" \
	"$(q "$TMP/x" "SELECT cache_key FROM executions")" \
	"$(q "$L" "SELECT cache_key FROM executions WHERE stage_id = 'data/corpus'")"
"$STUDY" run "$TMP/x.yaml" --store "$TMP/x2" 'data/corpus' --executor local >/dev/null 2>&1
check_eq "--executor local overrides the study file" \
	"$(q "$TMP/x2" "SELECT executor || ' ' || coalesce(job_id, '-') FROM executions")" "local -"
"$STUDY" run "$TMP/x.yaml" --store "$TMP/x3" 'data/corpus' --partition "$part" >/dev/null 2>&1
check_eq "--partition overrides the study file's" \
	"$(q "$TMP/x3" "SELECT queue FROM executions")" "$part"
done_testing
