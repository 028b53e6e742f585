#!/bin/sh
# `study verify` reports a missing object (a second check next to t0500, which
# deletes an object of a stage's output tree): here the deleted object is a
# stage's stderr or stdout log, or a file that another stage took as its input.
# Each time verify exits 1, names the object's digest and, in --json, reports
# a problem of kind "missing"; the intact store passes.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
S="$TMP/store"
cat >"$TMP/v.yaml" <<YAML
study: verify-missing
root: $TOP
data:
  src: {run: [sh, -c, 'echo "src says hello" >&2; echo src-stdout; echo payload > "\$STUDY_OUT/p.txt"']}
models:
  use: {run: [sh, -c, 'tr a-z A-Z < "\$1/p.txt" > "\$STUDY_OUT/upper.txt"', sh, '\${data.src}']}
YAML
"$STUDY" run "$TMP/v.yaml" --store "$S" >/dev/null 2>&1
check_eq "the study runs" "$?" 0
"$STUDY" verify --store "$S" >"$TMP/ok.out" 2>&1
check_eq "intact store: verify exits 0" "$?" 0

fresh() { rm -rf "$TMP/d"; cp -a "$S" "$TMP/d"; chmod -R u+w "$TMP/d"; }
obj() { echo "$TMP/d/objects/$(echo "$1" | cut -c1-2)/$1"; }
# missing WHAT DIGEST: delete the object DIGEST from a fresh copy, run verify
missing() {
	fresh
	check "$1: the object exists before" [ -f "$(obj "$2")" ]
	rm -f "$(obj "$2")"
	out=$("$STUDY" verify --store "$TMP/d" 2>&1); rc=$?
	check_eq "$1: verify exits 1" "$rc" 1
	check "$1: verify names the missing object" sh -c 'echo "$1" | grep -q "$2.*is missing"' - "$out" "$2"
	js=$("$STUDY" verify --store "$TMP/d" --json 2>/dev/null)
	check "$1: --json says ok false" json_has "$js" ok false
	check "$1: --json reports a problem of kind missing" json_has "$js" kind '"missing"'
}
db() { sqlite3 "$S/provenance.db" "$1"; }

err=$(db "SELECT stderr_digest FROM executions WHERE stage_id = 'data/src'")
check_eq "the stderr log is stored as its object" "$err" "$(printf 'src says hello\n' | sha256sum | cut -c1-64)"
missing "stderr log" "$err"
outlog=$(db "SELECT stdout_digest FROM executions WHERE stage_id = 'data/src'")
check_eq "the stdout log is stored as its object" "$outlog" "$(printf 'src-stdout\n' | sha256sum | cut -c1-64)"
missing "stdout log" "$outlog"
# the file model/use read as its input
in=$(printf 'payload\n' | sha256sum | cut -c1-64)
check_eq "the consumer's recorded input is the producer's tree" \
	"$(db "SELECT count(*) FROM inputs i JOIN executions e ON e.id = i.execution_id
		WHERE e.stage_id = 'model/use'")" 1
missing "an input's object" "$in"
done_testing
