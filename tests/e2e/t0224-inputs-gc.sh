#!/bin/sh
# study gc and external inputs: the file and directory inputs of a kept run
# stay in the store (a file input is recorded by its object's name, not a
# tree), those only older runs used are collected, and verify says so.
. "$(dirname "$0")/lib.sh"

mkdir "$TMP/ck"
echo w1 >"$TMP/ck/a"
echo p1 >"$TMP/prompts.txt"
cat >"$TMP/s.yaml" <<YAML
study: ext-gc
root: .
inputs:
  ck: {path: $TMP/ck}
  pr: {path: $TMP/prompts.txt}
data:
  d:
    run: [sh, -c, 'cat "\$1"/a "\$2" >"\$3"/o', x, "\${inputs.ck}", "\${inputs.pr}", "\${out}"]
YAML
S="$TMP/st"
"$STUDY" run "$TMP/s.yaml" --store "$S" >/dev/null 2>&1
echo p2 >"$TMP/prompts.txt"
"$STUDY" run "$TMP/s.yaml" --store "$S" >/dev/null 2>&1
old=$(printf 'p1\n' | sha256sum | cut -c1-64)
new=$(printf 'p2\n' | sha256sum | cut -c1-64)
"$STUDY" gc --store "$S" >"$TMP/gc" 2>&1
check_eq "gc removes run 1's output and its old file input" "$(tail -n 1 "$TMP/gc" | sed 's/: [0-9]* bytes freed//')" \
	"gc 1: removed 1 tree, 2 objects, 1 cache entry and 0 temporaries"
check "the file input run 2 used is still an object" test -f "$S/objects/$(echo "$new" | cut -c1-2)/$new"
check "the file input only run 1 used is gone" test ! -e "$S/objects/$(echo "$old" | cut -c1-2)/$old"
"$STUDY" verify --store "$S" >"$TMP/v" 2>&1; rc=$?
check_eq "verify after gc: exit 0" "$rc" 0
check_eq "verify after gc: 0 problems" "$(tail -n 1 "$TMP/v" | sed 's/.*; //')" "0 problems"
"$STUDY" run "$TMP/s.yaml" --store "$S" >"$TMP/out" 2>"$TMP/err"
check_eq "the rerun is a cache hit" "$(cat "$TMP/out")" "run 3: ran 0, cached 1, failed 0"
check_eq "and imports nothing again" "$(grep -c 'new in the store' "$TMP/err")" 0

newd=$(printf 'p2\n' | sha256sum | cut -c1-12)
check_eq "why names the external input and where it was imported from" \
	"$("$STUDY" why data/d --store "$S" | sed 's/(20[-0-9T:Z]*)/(T)/g')" \
	"stage data/d was a cache hit in run 3 (T): nothing ran; its output sha256:$(sqlite3 "$S/provenance.db" "SELECT substr(output_digest, 1, 12) FROM executions WHERE run_id = 2") was produced in run 2 (T)"
"$STUDY" run "$TMP/s.yaml" --store "$S" --force data/d >/dev/null 2>&1
echo p3 >"$TMP/prompts.txt"
"$STUDY" run "$TMP/s.yaml" --store "$S" >/dev/null 2>&1
p3=$(printf 'p3\n' | sha256sum | cut -c1-12)
check_eq "why after an external input changed" \
	"$("$STUDY" why data/d --store "$S" | sed 's/(20[-0-9T:Z]*)/(T)/g')" \
	"stage data/d ran in run 5 (T) because its cache key changed since run 4:
  input inputs.pr (input/pr): sha256:$newd -> sha256:$p3  (imported from $TMP/prompts.txt)"
done_testing
