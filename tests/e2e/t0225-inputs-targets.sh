#!/bin/sh
# External inputs and TARGETs: `run`/`status STUDY TARGET...` import and
# check only the inputs the selected stages read, so a broken pin on an
# input nothing selected reads does not block them; without targets every
# declared input is checked, as before.
. "$(dirname "$0")/lib.sh"
echo a >"$TMP/a.txt"
echo b >"$TMP/b.txt"
wrong=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
cat >"$TMP/s.yaml" <<YAML
study: in-targets
root: .
inputs:
  a: {path: $TMP/a.txt}
  b: {path: $TMP/b.txt, sha256: $wrong}
data:
  one: {run: [sh, -c, 'cat "\$1" >"\$2"/o', x, "\${inputs.a}", "\${out}"]}
  two: {run: [sh, -c, 'cat "\$1" >"\$2"/o', x, "\${inputs.b}", "\${out}"]}
YAML
S="$TMP/st"
"$STUDY" run "$TMP/s.yaml" data/one --store "$S" >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "a target that reads only a good input runs" "$rc:$(cat "$TMP/out")" \
	"0:run 1: ran 1, cached 0, failed 0, not selected 1"
check_eq "the unselected input was not imported" "$(grep -c 'input/b' "$TMP/err")" 0
"$STUDY" status "$TMP/s.yaml" data/one --store "$S" >"$TMP/out" 2>&1; rc=$?
check_eq "status of that target: exit 0, one input shown" "$rc:$(grep -c '^imported' "$TMP/out")" "0:1"
"$STUDY" run "$TMP/s.yaml" data/two --store "$S" >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "a target that reads the broken input is refused" "$rc:$(sed 's/ has sha256.*//' "$TMP/err")" \
	"2:study: error: $TMP/s.yaml:5:$(($(printf '  b: {path: %s, sha256: ' "$TMP/b.txt" | wc -c) + 1)): input 'b': file '$TMP/b.txt'"
"$STUDY" run "$TMP/s.yaml" --store "$S" >"$TMP/out" 2>"$TMP/err"; rc=$?
check_eq "the whole study is refused too" "$rc" 2
check_eq "and records nothing more" "$(sqlite3 "$S/provenance.db" 'SELECT count(*) FROM runs')" 1
done_testing
