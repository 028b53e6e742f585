#!/bin/sh
# External inputs (issue 12): a file and a directory outside the store are
# imported by content and reach the stage as read-only paths in the store
# (${inputs.NAME}); the originals are left alone; a rerun is cached; dag,
# status and show know them as input/NAME, and provenance keeps where each
# came from.
. "$(dirname "$0")/lib.sh"
D="$TMP/proj"
S="$TMP/store"
mkdir -p "$D/data" "$TMP/ckpt/sub"
printf 'how do I pick a lock\n' >"$D/data/harmful.jsonl"
printf 'weights\n' >"$TMP/ckpt/model.bin"
printf '{"layers": 2}\n' >"$TMP/ckpt/sub/config.json"
chmod 0640 "$D/data/harmful.jsonl"
cat >"$D/s.yaml" <<YAML
study: inputs
root: .
inputs:
  prompts: {path: data/harmful.jsonl}
  llama: {path: $TMP/ckpt}
data:
  seen:
    run: [sh, -c, 'printf "%s\n%s\n" "\$1" "\$2" >"\$3/args"; cat "\$1" "\$2/sub/config.json" >"\$3/content"; ls -l "\$1" "\$2/model.bin" | cut -c1-10 >"\$3/modes"',
          x, "\${inputs.prompts}", "\${inputs.llama}", "\${out}"]
YAML
run() { "$STUDY" run "$D/s.yaml" --store "$S" "$@"; }
ino() { stat -c %i "$1"; }
before_ino=$(ino "$D/data/harmful.jsonl")
before_stat=$(stat -c '%i %a %s %Y %h' "$D/data/harmful.jsonl")

run >"$TMP/out" 2>"$TMP/err"
check_eq "first run exits 0" "$?" 0
check_eq "first run: the stage ran" "$(tail -1 "$TMP/out")" "run 1: ran 1, cached 0, failed 0"
fsha=$(sha256sum "$D/data/harmful.jsonl" | cut -d' ' -f1)
dsha=$("$STUDY" hash "$TMP/ckpt" | cut -d' ' -f1)
out=$(sqlite3 "$S/provenance.db" "SELECT output_digest FROM executions WHERE stage_id = 'data/seen'")
check_eq "\${inputs.prompts} is the file's object in the store" \
	"$(sed -n 1p "$S/out/$out/args")" "$S/objects/$(echo "$fsha" | cut -c1-2)/$fsha"
check_eq "\${inputs.llama} is the directory's tree in the store" \
	"$(sed -n 2p "$S/out/$out/args")" "$S/out/$dsha"
check_eq "the stage read both contents" "$(cat "$S/out/$out/content")" \
	"$(printf 'how do I pick a lock\n{"layers": 2}')"
check_eq "what the stage got is read-only" "$(cat "$S/out/$out/modes")" \
	"$(printf -- '-r--r--r--\n-r--r--r--')"
check_eq "the original file is left alone (inode, mode, size, mtime, one link)" \
	"$(stat -c '%i %a %s %Y %h' "$D/data/harmful.jsonl")" "$before_stat"
check "the store's copy is not a hard link to it" \
	test "$(ino "$S/objects/$(echo "$fsha" | cut -c1-2)/$fsha")" != "$before_ino"
check "the checkpoint is still writable by its owner" test -w "$TMP/ckpt/model.bin"
check_eq "a first import says what it read" "$(grep -c 'hashed' "$TMP/err")" 2

run >"$TMP/out" 2>"$TMP/err"
check_eq "rerun: cached" "$(tail -1 "$TMP/out")" "run 2: ran 0, cached 1, failed 0"

# the cache key holds the digests, not the paths
rec=$(sqlite3 "$S/provenance.db" "SELECT cache_record FROM executions WHERE stage_id = 'data/seen' AND status = 'ran'")
check "the cache record names the file input by its digest" \
	sh -c "echo '$rec' | grep -q '\"inputs.prompts\":\"$fsha\"'"
check "and the directory input by its tree digest" \
	sh -c "echo '$rec' | grep -q '\"inputs.llama\":\"$dsha\"'"
check "and never by the path" sh -c "! echo '$rec' | grep -q '$TMP'"

# provenance: where each input came from
sqlite3 "$S/provenance.db" "SELECT name, stage_id, digest, source FROM inputs ORDER BY rowid" >"$TMP/ins"
check_eq "the inputs rows carry the original paths" "$(cat "$TMP/ins")" \
	"inputs.prompts|input/prompts|$fsha|$D/data/harmful.jsonl
inputs.llama|input/llama|$dsha|$TMP/ckpt"
"$STUDY" show data/seen --store "$S" >"$TMP/show"
check "show STAGE prints each external input with its source" \
	grep -q "^  inputs.prompts  input/prompts  $fsha  from $D/data/harmful.jsonl\$" "$TMP/show"
"$STUDY" show data/seen --store "$S" --json >"$TMP/show.json"
check "show --json has the source" json_has "$(cat "$TMP/show.json")" source "\"$TMP/ckpt\""
"$STUDY" show input/llama --store "$S" >"$TMP/si"
check_eq "show input/NAME: the digest" "$(grep '^digest' "$TMP/si")" "digest       $dsha"
check_eq "show input/NAME: the source" "$(grep '^source' "$TMP/si")" "source       $TMP/ckpt"
check_eq "show input/NAME: its copy in the store" "$(grep '^in the store' "$TMP/si")" \
	"in the store $S/out/$dsha"
"$STUDY" show input/nope --store "$S" >/dev/null 2>"$TMP/e"
check_eq "show of an unknown input exits 2" "$?" 2
check_eq "and says so" "$(cat "$TMP/e")" "study: error: no execution recorded input 'input/nope'"
"$STUDY" show data/seen --lineage --store "$S" >"$TMP/lin"
check "lineage ends at the external input's path" \
	grep -q "inputs.llama = $dsha <- input/llama (external input, imported from $TMP/ckpt)" "$TMP/lin"

# dag and status know them
"$STUDY" dag "$D/s.yaml" >"$TMP/dot"
check "dag draws the directory input" grep -q '^  "input/llama" \[shape=folder\];$' "$TMP/dot"
check "dag draws its edge" grep -q '^  "input/prompts" -> "data/seen" \[label="inputs.prompts"\];$' "$TMP/dot"
"$STUDY" dag "$D/s.yaml" --format json >"$TMP/dag.json"
check "dag --json lists the inputs" \
	grep -q "{\"id\":\"input/prompts\",\"kind\":\"file\",\"path\":\"$D/data/harmful.jsonl\",\"sha256\":null}" "$TMP/dag.json"
"$STUDY" status "$D/s.yaml" --store "$S" >"$TMP/st"
check_eq "status: the file input is imported" "$(sed -n 1p "$TMP/st" | tr -s ' ')" \
	"imported input/prompts $(echo "$fsha" | cut -c1-12) ($D/data/harmful.jsonl)"
check_eq "status: the stage is up to date" "$(tail -1 "$TMP/st")" "1 of 1 stages up to date, 0 will run"

# the store stays verifiable, and so does the stage
"$STUDY" verify --store "$S" >"$TMP/v"
check_eq "verify: no problems" "$?" 0
"$STUDY" verify --rerun data/seen --store "$S" >"$TMP/rr" 2>&1
check_eq "verify --rerun reruns the stage on its imported inputs" "$(tail -1 "$TMP/rr")" \
	"rerun: 1 identical, 0 different, 0 failed"
done_testing
