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
check "stored objects are mode 0444" sh -c "[ \$(stat -c %a $envf) = 444 ]"
check "stored directories are mode 0555" sh -c "[ \$(stat -c %a $(dirname $envf)) = 555 ]"

# inputs are read-only: a stage that tries to append to its input either is
# refused by the modes (an ordinary user) or, as root (who ignores modes; CI
# runs as root), is failed by the run's tamper check; never does the run
# succeed with a modified input, and the input's bytes stay what was recorded
cat >"$TMP/ro.yaml" <<YAML
study: readonly-inputs
root: $TOP
data:
  src: {run: [sh, -c, 'echo original > "\$STUDY_OUT/in.txt"']}
models:
  writer:
    run: [sh, -c, 'if echo evil >> "\$1/in.txt" 2>/dev/null; then w=wrote; else w=refused; fi; echo \$w > "\$STUDY_OUT/w.txt"', sh, "\${data.src}"]
YAML
"$STUDY" run "$TMP/ro.yaml" --store "$TMP/ro" >/dev/null 2>"$TMP/ro.err"; rc=$?
row=$(sqlite3 "$TMP/ro/provenance.db" "SELECT status || '|' || coalesce(reason, '') FROM executions
	WHERE stage_id = 'model/writer'")
inobj=$(printf 'original\n' | sha256sum | cut -c1-64)
inobj="$TMP/ro/objects/$(echo "$inobj" | cut -c1-2)/$inobj"
if [ "$(id -u)" = 0 ]; then
	check_eq "as root: a stage writing into its input fails the run" "$rc" 1
	check_eq "as root: it is failed by the tamper check, naming the input and the file" "$row" \
		"failed|input 'data.src' was modified while the stage ran (file 'in.txt'); 1 damaged object removed from the store, the input's producer will run again"
	check "as root: the damaged object is gone from the store" [ ! -e "$inobj" ]
	check_eq "as root: nothing was stored for the writer" "$(ls "$TMP"/ro/out/*/w.txt 2>/dev/null)" ""
else
	check_eq "as a user: a stage's write into its input is refused, the run succeeds" "$rc" 0
	check_eq "as a user: the stage ran and saw its write refused" \
		"$row $(cat "$TMP"/ro/out/*/w.txt 2>/dev/null)" "ran| refused"
	check_eq "as a user: the input's object holds the recorded bytes" "$(cat "$inobj")" original
fi

# a pass-through value is part of the cache key
PASS_ME=other "$STUDY" run "$TMP/proto.yaml" --store "$S" --json >"$TMP/out" 2>/dev/null
check_eq "the run with another pass-through value succeeds" "$?" 0
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
