#!/bin/sh
# External inputs (issue 12): a pinned digest that does not match refuses
# the whole run before anything runs or is recorded, naming the file, both
# digests and the study's file:line:col; a missing path is a load error at
# its `path:`. status and --dry-run refuse the same way.
. "$(dirname "$0")/lib.sh"
S="$TMP/store"
mkdir -p "$TMP/ckpt"
printf 'prompt one\n' >"$TMP/p.txt"
printf 'w\n' >"$TMP/ckpt/w.bin"
fsha=$(sha256sum "$TMP/p.txt" | cut -d' ' -f1)
dsha=$("$STUDY" hash "$TMP/ckpt" | cut -d' ' -f1)
wrong=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
study() { # study FILE-PIN DIR-PIN
	cat >"$TMP/s.yaml" <<YAML
study: pins
inputs:
  prompts:
    path: $TMP/p.txt
    sha256: $1
  ckpt: {path: $TMP/ckpt, sha256: $2}
data:
  d: {run: [sh, -c, 'touch "$TMP/ran"; cat "\$0" >"\$1/x"', "\${inputs.prompts}", "\${out}"]}
YAML
}
objects() { find "$S/objects" -type f 2>/dev/null | wc -l; }

# a first run refused: no store content, no run row
study "$wrong" "$dsha"
"$STUDY" run "$TMP/s.yaml" --store "$S" >"$TMP/out" 2>"$TMP/err"
check_eq "a pinned file that differs: exit 2" "$?" 2
check_eq "the error names the file, both digests and the pin's line:col" "$(cat "$TMP/err")" \
	"study: error: $TMP/s.yaml:5:13: input 'prompts': file '$TMP/p.txt' has sha256 $fsha, but the study pins $wrong"
check_eq "nothing on stdout" "$(cat "$TMP/out")" ""
check "the stage did not run" test ! -e "$TMP/ran"
check "no provenance was written" test ! -e "$S/provenance.db"
check_eq "what the refused import copied was removed again" "$(objects)" 0

# the right pins: it runs
study "$fsha" "$dsha"
"$STUDY" run "$TMP/s.yaml" --store "$S" >"$TMP/out" 2>&1
check_eq "the right pins (sha256sum, study hash): the run succeeds" "$(tail -1 "$TMP/out")" \
	"run 1: ran 1, cached 0, failed 0"
n=$(objects)
rm -f "$TMP/ran"

# the directory changes under its pin: refused, and the runs table is untouched
printf 'w2\n' >"$TMP/ckpt/extra.bin"
now=$("$STUDY" hash "$TMP/ckpt" | cut -d' ' -f1)
"$STUDY" run "$TMP/s.yaml" --store "$S" >"$TMP/out" 2>"$TMP/err"
check_eq "a pinned directory that changed: exit 2" "$?" 2
col=$((${#TMP} + 31)) # the pin's column on "  ckpt: {path: $TMP/ckpt, sha256: ..."
check_eq "the error gives the tree digest and the pin" "$(cat "$TMP/err")" \
	"study: error: $TMP/s.yaml:6:$col: input 'ckpt': directory '$TMP/ckpt' has tree digest $now (as 'study hash' prints it), but the study pins $dsha"
check_eq "no run row was added" "$(sqlite3 "$S/provenance.db" 'SELECT count(*) FROM runs')" 1
check_eq "no execution row was added" "$(sqlite3 "$S/provenance.db" 'SELECT count(*) FROM executions')" 1
check "the stage did not run" test ! -e "$TMP/ran"
check_eq "the new file's object was removed again" "$(objects)" "$n"
"$STUDY" status "$TMP/s.yaml" --store "$S" >/dev/null 2>"$TMP/err2"
check_eq "status refuses the same way (exit 2)" "$?" 2
check_eq "with the same message" "$(cat "$TMP/err2")" "$(cat "$TMP/err")"
"$STUDY" run "$TMP/s.yaml" --store "$S" --dry-run >/dev/null 2>"$TMP/err3"
check_eq "so does --dry-run" "$?:$(cat "$TMP/err3")" "2:$(cat "$TMP/err")"
rm "$TMP/ckpt/extra.bin"

# a missing path: a load error at its path:, whatever the command
mkdir -p "$TMP/proj"
cat >"$TMP/proj/m.yaml" <<'YAML'
study: missing
root: .
inputs:
  llama:
    path: ckpt/llama-3.1-8b
data:
  d: {run: [sh, -c, 'cat "$0" >"$1/x"', "${inputs.llama}", "${out}"]}
YAML
for cmd in run status dag; do
	"$STUDY" $cmd "$TMP/proj/m.yaml" --store "$S" >/dev/null 2>"$TMP/err"
	rc=$?
	[ $cmd = dag ] && { "$STUDY" dag "$TMP/proj/m.yaml" >/dev/null 2>"$TMP/err"; rc=$?; }
	check_eq "a missing input path: $cmd exits 2" "$rc" 2
	check_eq "a missing input path: $cmd says where" "$(head -1 "$TMP/err")" \
		"study: error: $TMP/proj/m.yaml:5:11: input 'llama': '$TMP/proj/ckpt/llama-3.1-8b' does not exist"
done
check_eq "the caret points at the path" "$(sed -n 2,3p "$TMP/err")" \
	"    path: ckpt/llama-3.1-8b
          ^"
check_eq "still one run recorded" "$(sqlite3 "$S/provenance.db" 'SELECT count(*) FROM runs')" 1
done_testing
