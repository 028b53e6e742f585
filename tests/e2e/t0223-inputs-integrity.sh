#!/bin/sh
# External inputs (issue 12): the store's copy of an input is guarded like
# any stored tree. A stage that writes to its imported file input fails and
# the damaged copy is dropped; a copy damaged between runs is found by the
# next run (its stat record moved) and imported again from the original;
# verify names an external input whose copy is missing. A symbolic link in
# a directory input is refused, as in an output.
. "$(dirname "$0")/lib.sh"
S="$TMP/store"
printf 'clean data\n' >"$TMP/p.txt"
sha=$(sha256sum "$TMP/p.txt" | cut -d' ' -f1)
obj="$S/objects/$(echo "$sha" | cut -c1-2)/$sha"
cat >"$TMP/bad.yaml" <<YAML
study: integrity
inputs:
  prompts: {path: $TMP/p.txt}
data:
  vandal: {run: [sh, -c, 'chmod u+w "\$0" && echo oops >>"\$0"; echo done >"\$1/x"', "\${inputs.prompts}", "\${out}"]}
YAML
cat >"$TMP/good.yaml" <<YAML
study: integrity
inputs:
  prompts: {path: $TMP/p.txt}
data:
  reader: {run: [sh, -c, 'tr a-z A-Z <"\$0" >"\$1/x"', "\${inputs.prompts}", "\${out}"]}
YAML

"$STUDY" run "$TMP/bad.yaml" --store "$S" >"$TMP/out" 2>"$TMP/err"
check_eq "a stage that writes its imported input fails" "$?" 1
check "and is told why" grep -q "input 'inputs.prompts' was modified while the stage ran (file '.'); its damaged copy was removed from the store, the next run imports it again" "$TMP/err"
check "the damaged copy is gone" test ! -e "$obj"
check_eq "the original is untouched" "$(cat "$TMP/p.txt")" "clean data"

"$STUDY" run "$TMP/good.yaml" --store "$S" >"$TMP/out" 2>&1
check_eq "the next run imports it again and runs" "$(tail -1 "$TMP/out")" "run 2: ran 1, cached 0, failed 0"
reader_out=$(sqlite3 "$S/provenance.db" "SELECT output_digest FROM executions WHERE stage_id = 'data/reader'")
check_eq "the reader saw the clean content" "$(cat "$S/out/$reader_out/x")" "CLEAN DATA"

# damaged between runs (someone made the store's copy writable and edited it)
chmod u+w "$obj"
printf 'dirty data\n' >"$obj"
chmod 0444 "$obj"
"$STUDY" run "$TMP/good.yaml" --store "$S" -v >"$TMP/out" 2>"$TMP/err"
check_eq "a run after the copy was damaged: still cached" "$(tail -1 "$TMP/out")" \
	"run 3: ran 0, cached 1, failed 0"
check "it imported the input again" grep -q "^study: input/prompts: .*1 new in the store" "$TMP/err"
check_eq "the copy holds the original's bytes again" "$(sha256sum "$obj" | cut -d' ' -f1)" "$sha"
"$STUDY" verify --store "$S" >/dev/null
check_eq "verify: no problems" "$?" 0

# verify names an external input whose copy is missing
exec_id=$(sqlite3 "$S/provenance.db" "SELECT max(execution_id) FROM inputs WHERE name = 'inputs.prompts'")
first=$(sqlite3 "$S/provenance.db" "SELECT min(execution_id) FROM inputs WHERE name = 'inputs.prompts' AND digest = '$sha'")
chmod u+w "$(dirname "$obj")"
rm -f "$obj"
"$STUDY" verify --store "$S" >"$TMP/v"
check_eq "verify with the copy gone: exit 1" "$?" 1
check "verify says which input and execution" grep -q \
	"^verify: '$sha' (external input 'inputs.prompts' of execution $first) is missing from the store; the next run imports it again" "$TMP/v"
"$STUDY" run "$TMP/good.yaml" --store "$S" >"$TMP/out" 2>&1
check "and the next run imports it again" test -f "$obj"

# a symbolic link inside a directory input
mkdir -p "$TMP/ckpt"
printf 'w\n' >"$TMP/ckpt/w.bin"
ln -s w.bin "$TMP/ckpt/latest"
cat >"$TMP/link.yaml" <<YAML
study: links
inputs:
  ckpt: {path: $TMP/ckpt}
data:
  d: {run: [sh, -c, 'ls "\$0" >"\$1/x"', "\${inputs.ckpt}", "\${out}"]}
YAML
"$STUDY" run "$TMP/link.yaml" --store "$S" >/dev/null 2>"$TMP/err"
check_eq "a symbolic link in a directory input: exit 2" "$?" 2
check_eq "the error names it" "$(cat "$TMP/err")" \
	"study: error: $TMP/link.yaml:3:16: input 'ckpt': '$TMP/ckpt/latest' is a symbolic link (only regular files and directories are allowed)"
done_testing
