#!/bin/sh
# External inputs (issue 12): what reruns when an input changes. Editing
# the content reruns what reads it, and status and --dry-run give that as
# the reason; touching it (same bytes, new times) reruns nothing and keeps
# every cache key; moving it to another path keeps the keys too (digests,
# never paths). The stat cache keeps a rerun from reading unchanged files:
# `run -v` says how many files each input had to hash.
. "$(dirname "$0")/lib.sh"
S="$TMP/store"
mkdir -p "$TMP/data" "$TMP/ckpt"
printf 'a\nb\n' >"$TMP/data/p.txt"
for i in 1 2 3; do printf 'shard %s\n' $i >"$TMP/ckpt/shard-$i"; done
study() { # study PROMPTS-PATH CKPT-PATH
	cat >"$TMP/s.yaml" <<YAML
study: change
inputs:
  prompts: {path: $1}
  ckpt: {path: $2}
data:
  count: {run: [sh, -c, 'wc -l <"\$0" >"\$1/n"', "\${inputs.prompts}", "\${out}"]}
  shards: {run: [sh, -c, 'ls "\$0" >"\$1/list"', "\${inputs.ckpt}", "\${out}"]}
models:
  m: {run: [sh, -c, 'cat "\$0/n" >"\$1/m"', "\${data.count}", "\${out}"]}
YAML
}
study "$TMP/data/p.txt" "$TMP/ckpt"
run() { "$STUDY" run "$TMP/s.yaml" --store "$S" "$@" 2>"$TMP/err" | sed 's/^run [0-9]*: /run: /'; }
keys() { sqlite3 "$S/provenance.db" "SELECT stage_id || ' ' || cache_key FROM executions
	WHERE status = 'ran' AND id IN (SELECT max(id) FROM executions WHERE status = 'ran' GROUP BY stage_id)
	ORDER BY stage_id"; }
hashed() { sed -n "s/^study: input\/$1: .*: hashed \([0-9]*\) file.*/\1/p" "$TMP/err"; }

check_eq "first run" "$(run)" "run: ran 3, cached 0, failed 0"
sleep 0.1 # files changed in the clock tick they are read in are read again next time
run -v >/dev/null
check_eq "second run: cached" "$(run -v)" "run: ran 0, cached 3, failed 0"
check_eq "unchanged file input: hashed 0 files (stat cache)" "$(hashed prompts)" 0
check_eq "unchanged directory input: hashed 0 files" "$(hashed ckpt)" 0
k0=$(keys)

# touch: new times, same bytes
touch "$TMP/data/p.txt" "$TMP/ckpt/shard-2"
sleep 0.1 # past the clock tick of the touch: the next read can be recorded
check_eq "touched inputs: nothing reruns" "$(run -v)" "run: ran 0, cached 3, failed 0"
check_eq "the touched file was hashed once" "$(hashed prompts)" 1
check_eq "in the directory, only the touched file was hashed" "$(hashed ckpt)" 1
check_eq "a quiet run says nothing when nothing had to be read" "$(run; cat "$TMP/err")" \
	"run: ran 0, cached 3, failed 0"
check_eq "touched inputs: every cache key is the same" "$(keys)" "$k0"
check_eq "touched: status agrees" "$("$STUDY" status "$TMP/s.yaml" --store "$S" | tail -1)" \
	"3 of 3 stages up to date, 0 will run"

# an edit: the reader reruns, and so does what depends on it
old=$(sha256sum "$TMP/data/p.txt" | cut -c1-12)
printf 'c\n' >>"$TMP/data/p.txt"
new=$(sha256sum "$TMP/data/p.txt" | cut -c1-12)
"$STUDY" status "$TMP/s.yaml" --store "$S" >"$TMP/st"
check_eq "edited: status says the input will be imported" "$(sed -n 1p "$TMP/st" | tr -s ' ')" \
	"will import input/prompts $new: not in the store yet ($TMP/data/p.txt)"
check_eq "edited: status gives the changed input as the reason" \
	"$(grep ' data/count ' "$TMP/st" | tr -s ' ')" \
	"will run data/count input 'prompts' changed (sha256:$new, was sha256:$old)"
check_eq "edited: the stage downstream waits for it" "$(grep 'model/m' "$TMP/st" | tr -s ' ')" \
	"will run model/m upstream 'data/count' will run (its output is not known yet)"
check_eq "edited: the stage that does not read it is up to date" \
	"$(grep 'data/shards' "$TMP/st" | cut -c1-11)" "up to date "
"$STUDY" run "$TMP/s.yaml" --store "$S" --dry-run -v >"$TMP/dry" 2>&1
check "edited: --dry-run gives the same reason" \
	grep -q "would run data/count: input 'prompts' changed (sha256:$new, was sha256:$old)" "$TMP/dry"
check_eq "edited: the dry run's summary" "$(tail -1 "$TMP/dry")" \
	"dry run: would run 2, cached 1, failed 0"
check_eq "edited: the run reruns the reader and its dependent" "$(run)" \
	"run: ran 2, cached 1, failed 0"
check_eq "edited: the stage read the new content" \
	"$(cat "$S/out/$(sqlite3 "$S/provenance.db" "SELECT output_digest FROM executions WHERE stage_id = 'model/m' ORDER BY id DESC LIMIT 1")/m" | tr -d ' ')" 3

# an edit inside the directory input
k1=$(keys)
printf 'shard 4\n' >"$TMP/ckpt/shard-4"
check_eq "a file added to the directory input reruns its reader only" "$(run -v)" \
	"run: ran 1, cached 2, failed 0"
check_eq "only the new file was hashed" "$(hashed ckpt)" 1

# the same contents at other paths: same keys, all cached
k2=$(keys)
mv "$TMP/data" "$TMP/moved-data"
mv "$TMP/ckpt" "$TMP/moved-ckpt"
study "$TMP/moved-data/p.txt" "$TMP/moved-ckpt"
check_eq "inputs moved elsewhere: nothing reruns" "$(run)" "run: ran 0, cached 3, failed 0"
check_eq "and the keys are the ones before the move" "$(keys)" "$k2"
check "the keys did change with the content" test "$k1" != "$k0"

# a stage that starts reading another input says so
sed 's|wc -l <"\$0" >"\$1/n"'"'"', "\${inputs.prompts}"|wc -l <"$0" >"$1/n"'"'"', "${inputs.prompts}", "${inputs.ckpt}"|' \
	"$TMP/s.yaml" >"$TMP/s2.yaml"
ck=$("$STUDY" hash "$TMP/moved-ckpt" | cut -c1-12)
check_eq "an input newly read: status says it was added" \
	"$("$STUDY" status "$TMP/s2.yaml" --store "$S" | grep ' data/count ' | tr -s ' ')" \
	"will run data/count input 'ckpt' added (sha256:$ck); changed: argv, inputs"
done_testing
