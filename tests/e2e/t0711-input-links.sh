#!/bin/sh
# Regression: hard-linking an input file (cp -l style, or the store linking the
# same object into another tree while a stage runs) changes the input's ctime
# and link count; that is not a modification and must not fail the stage.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
S="$TMP/store"
cat >"$TMP/links.yaml" <<YAML
study: links
root: $TOP
data:
  corpus: {run: [stages/bin/toystage, gen, --seed, "3", --n, "8", --out, "\${out}"]}
models:
  m: {run: [sh, -c, 'ln "\$1/data.txt" "\$STUDY_OUT/data.txt"', sh, "\${data.corpus}"]}
YAML
"$STUDY" run "$TMP/links.yaml" --store "$S" >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "a stage that hard-links its input into its output succeeds" "$rc" 0
check "it is not reported as modifying its input" sh -c "! grep -q 'was modified while the stage ran' '$TMP/err'"
"$STUDY" verify --store "$S" >/dev/null 2>&1
check_eq "the store verifies afterwards" "$?" 0
done_testing
