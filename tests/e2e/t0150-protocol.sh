#!/bin/sh
# End to end: the stage protocol — cleared environment with STUDY_* variables
# and pass-through names, literal argv (no shell), time limits, progress.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
S="$TMP/store"
cat >"$TMP/proto.yaml" <<YAML
study: protocol
seed: 7
root: $TOP
data:
  env:
    run: [sh, -c, 'env | sort > "\$STUDY_OUT/env.txt"; pwd > "\$STUDY_OUT/pwd.txt"']
    env: [PASS_ME]
    params: {alpha: 0.5, name: x}
  literal:
    run: [sh, -c, 'printf "%s\n" "\$1" > "\$STUDY_OUT/arg.txt"', sh, '\$(touch $TMP/pwned); \`id\` | ; > x']
YAML
PASS_ME=yes LEAK_ME=no "$STUDY" run "$TMP/proto.yaml" --store "$S" >/dev/null 2>"$TMP/err"
check_eq "protocol study runs" "$?" 0
envf=$(ls "$S"/out/*/env.txt)
check "STUDY_SEED is the study seed" grep -qx 'STUDY_SEED=7' $envf
check "STUDY_STAGE is the stage id" grep -qx 'STUDY_STAGE=data/env' $envf
check "STUDY_PARAMS is the params as JSON" grep -qx 'STUDY_PARAMS={"alpha":0.5,"name":"x"}' $envf
check "STUDY_THREADS is set" grep -qx 'STUDY_THREADS=1' $envf
check "STUDY_PROGRESS_FD is set" grep -qx 'STUDY_PROGRESS_FD=3' $envf
check "pass-through variable is passed" grep -qx 'PASS_ME=yes' $envf
check "other variables do not leak in" sh -c "! grep -q LEAK_ME $envf"
check "TZ and LC_ALL are fixed" sh -c "grep -qx 'TZ=UTC' $envf && grep -qx 'LC_ALL=C' $envf"
check "the stage runs in its own directory, work/<cache key>" \
	grep -qx '.*/work/[0-9a-f]\{64\}/cwd' "$(dirname $envf)/pwd.txt"
argf=$(ls "$S"/out/*/arg.txt)
check_eq "shell metacharacters in argv are passed literally" "$(cat $argf)" '$(touch '"$TMP"'/pwned); `id` | ; > x'
check "nothing was executed from the argument" [ ! -e "$TMP/pwned" ]
check "inputs are read-only" sh -c "[ ! -w $envf ] || [ \$(id -u) = 0 ]"
check "stored objects are mode 0444" sh -c "[ \$(stat -c %a $envf) = 444 ]"

# a pass-through value is part of the cache key
PASS_ME=other "$STUDY" run "$TMP/proto.yaml" --store "$S" --json >"$TMP/out" 2>/dev/null
check_eq "changing a passed-through variable reruns that stage only" "$(json_field ran <"$TMP/out")" 1

cat >"$TMP/slow.yaml" <<YAML
study: slow
root: $TOP
data:
  slow:
    run: [stages/bin/toystage, sleep, --seconds, "30", --out, "\${out}"]
    resources: {time: 1s}
YAML
t0=$(date +%s)
"$STUDY" run "$TMP/slow.yaml" --store "$S" >/dev/null 2>"$TMP/err"; rc=$?
t1=$(date +%s)
check_eq "a stage over resources.time fails the run" "$rc" 1
check "the reason names the time limit" grep -q 'timed out after 1s' "$TMP/err"
check "the stage was stopped promptly (< 10 s)" [ $((t1 - t0)) -lt 10 ]
show=$("$STUDY" show data/slow --store "$S" --json)
check "provenance records the timeout" json_has "$show" timed_out true
done_testing
