#!/bin/sh
# status on a study whose pinned input does not match, before any run has
# recorded provenance (no store yet; a store that a refused run left without
# a database): the pin error alone, as 'run' prints it, not glued to the
# store's "no store" / "no provenance database" message.
. "$(dirname "$0")/lib.sh"
S="$TMP/store"
printf 'prompt one\n' >"$TMP/p.txt"
fsha=$(sha256sum "$TMP/p.txt" | cut -d' ' -f1)
wrong=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
cat >"$TMP/s.yaml" <<YAML
study: pins
inputs:
  prompts: {path: $TMP/p.txt, sha256: $wrong}
data:
  d: {run: [sh, -c, 'cat "\$0" >"\$1/x"', "\${inputs.prompts}", "\${out}"]}
YAML
col=$((${#TMP} + 35)) # the pin's column on "  prompts: {path: $TMP/p.txt, sha256: ..."
want="study: error: $TMP/s.yaml:3:$col: input 'prompts': file '$TMP/p.txt' has sha256 $fsha, but the study pins $wrong"

"$STUDY" status "$TMP/s.yaml" --store "$S" >"$TMP/out" 2>"$TMP/err"
check_eq "status, no store yet: exit 2" "$?" 2
check_eq "status, no store yet: the pin error alone" "$(cat "$TMP/err")" "$want"
check "status created no store" test ! -e "$S"

"$STUDY" run "$TMP/s.yaml" --store "$S" >/dev/null 2>"$TMP/err"
check_eq "run refuses with the same message" "$(cat "$TMP/err")" "$want"
check "the refused run wrote no provenance" test ! -e "$S/provenance.db"

"$STUDY" status "$TMP/s.yaml" --store "$S" >"$TMP/out" 2>"$TMP/err"
check_eq "status, store without provenance: exit 2" "$?" 2
check_eq "status, store without provenance: the pin error alone" "$(cat "$TMP/err")" "$want"

"$STUDY" run "$TMP/s.yaml" --store "$S" -n >/dev/null 2>"$TMP/err"
check_eq "run --dry-run: the same message" "$(cat "$TMP/err")" "$want"
done_testing
