#!/bin/sh
# End to end: a failing stage gives exit 1, --keep-going still runs what is
# not downstream of it, and nothing partial is stored.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
S="$TMP/store"
cat >"$TMP/fail.yaml" <<YAML
study: failing
root: $TOP
data:
  corpus: {run: [stages/bin/toystage, gen, --seed, "1", --n, "8", --out, "\${out}"]}
models:
  bad: {run: [stages/bin/toystage, fail, --code, "7"]}
  good: {run: [stages/bin/toystage, train, --data, "\${data.corpus}", --size, "4", --out, "\${out}"]}
methods:
  halve: {run: [stages/bin/toystage, transform, --model, "\${model}", --factor, "0.5", --out, "\${out}"]}
YAML
"$STUDY" run "$TMP/fail.yaml" --store "$S" -j 1 >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "a failing stage without --keep-going exits 1" "$rc" 1
check "the failure names the stage and its exit status" grep -q 'failed  model/bad.*exit status 7' "$TMP/err"
check "the failure shows the stage's stderr tail" grep -q '| toystage: failing on purpose' "$TMP/err"
check "without --keep-going nothing new starts after the failure" sh -c "! grep -q 'model/good' '$TMP/err'"

"$STUDY" run "$TMP/fail.yaml" --store "$S" --keep-going -j 1 >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "--keep-going still exits 1" "$rc" 1
check "--keep-going ran the good model and its method" grep -q 'ran .*method/halve/good' "$TMP/err"
check "the bad model's method is skipped" sh -c "! grep -q 'start   method/halve/bad' '$TMP/err'"
check_eq "summary counts the failure" "$(sed -n 's/.*failed \([0-9]*\).*/\1/p' "$TMP/out")" 1
check "one skipped stage is reported" grep -q '1 stage skipped' "$TMP/err"
check "no work directories left" sh -c "[ -z \"\$(ls -A '$S/work')\" ]"
check "no temporaries left" sh -c "[ -z \"\$(ls -A '$S/tmp')\" ]"

# an empty output is a failure too, and nothing is cached for it
cat >"$TMP/empty.yaml" <<YAML
study: empty-out
root: $TOP
data:
  nothing: {run: [stages/bin/toystage, empty]}
YAML
"$STUDY" run "$TMP/empty.yaml" --store "$S" >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "a stage with an empty \${out} fails" "$rc" 1
check "the reason says the output is empty" grep -q 'out} is empty' "$TMP/err"
"$STUDY" run "$TMP/empty.yaml" --store "$S" >"$TMP/out" 2>"$TMP/err"
check_eq "the second run fails too (exit 1)" "$?" 1
check "a failed stage is not cached: it runs again" grep -q 'failed 1' "$TMP/out"

# a missing program is a clear failure
cat >"$TMP/missing.yaml" <<YAML
study: missing-program
root: $TOP
data:
  x: {run: [no-such-program-here, --out, "\${out}"]}
YAML
"$STUDY" run "$TMP/missing.yaml" --store "$S" >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "a missing program fails the stage (exit 1)" "$rc" 1
check "... with 'command not found'" grep -q "command not found: 'no-such-program-here'" "$TMP/err"
done_testing
