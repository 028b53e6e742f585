#!/bin/sh
# verify after gc removed an external file input's old content: the line
# calls it an input file (it is an object, not a tree); and once a later run
# imports that content again, it is in the store and no longer listed as
# collected (as a tree made again is not).
. "$(dirname "$0")/lib.sh"
S="$TMP/store"
cat >"$TMP/s.yaml" <<YAML
study: vcoll
root: $TOP
inputs:
  p: {path: $TMP/p.txt}
data:
  n: {run: [sh, -c, 'wc -c <"\$0" >"\$1/n"', "\${inputs.p}", "\${out}"]}
YAML
run() { "$STUDY" run "$TMP/s.yaml" --store "$S" >/dev/null 2>&1; }
printf 'aaaa\n' >"$TMP/p.txt"; run
printf 'bbbb\n' >"$TMP/p.txt"; run
"$STUDY" gc --store "$S" --keep-runs 1 >"$TMP/gc" 2>&1
check_eq "gc removed the old content only" "$(tail -1 "$TMP/gc")" \
	"gc 1: removed 0 trees, 1 object, 0 cache entries and 0 temporaries: 5 bytes freed"
"$STUDY" verify --store "$S" --no-git >"$TMP/v" 2>&1
check_eq "verify: exit 0" "$?" 0
check_eq "verify names an input file, not a tree" "$(grep collected "$TMP/v")" \
	"verify: collected: 1 input file recorded by run 1 was removed by gc 1"

printf 'aaaa\n' >"$TMP/p.txt"; run
check "the old content is back in the store" \
	test -f "$S/objects/$(sha256sum "$TMP/p.txt" | cut -c1-2)/$(sha256sum "$TMP/p.txt" | cut -d' ' -f1)"
"$STUDY" verify --store "$S" --no-git >"$TMP/v" 2>&1
check_eq "verify: exit 0 again" "$?" 0
check_eq "imported again: not listed as collected" "$(grep -c collected "$TMP/v")" 0
check_eq "no problems" "$(tail -1 "$TMP/v" | sed 's/.*; //')" "0 problems"
done_testing
