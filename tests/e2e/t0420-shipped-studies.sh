#!/bin/sh
# The studies shipped in studies/ run no shell (issue 11, kind 1): every stage
# execs a program built from this repository (stages/bin/...) with plain argv,
# so that program is hashed as code in the stage's cache key, and loading each
# study prints no `warning:` (a shell or interpreter with no hashed program).
# Cheap: nothing runs, `status` only plans against an empty store.
. "$(dirname "$0")/lib.sh"
cd "$TOP" || exit 1

for s in studies/*.yaml; do
	shells=$(grep -nE '(^|[[:space:]])(run:[[:space:]]*\[|-)[[:space:]]*["'\'']?(/usr)?(/bin/)?(env["'\'']?[[:space:]]*,[[:space:]]*["'\'']?)?(sh|bash|dash|ksh|zsh)["'\'']?[[:space:]]*(,|$)' "$s")
	check_eq "$s: no stage runs a shell" "$shells" ""
	others=$(grep -nE '^[[:space:]]*run:' "$s" | grep -vE 'run:[[:space:]]*\[stages/bin/[a-z-]+,')
	check_eq "$s: every run list starts with a program under stages/bin/" "$others" ""
	"$STUDY" status "$s" --store "$TMP/store" >"$TMP/status.out" 2>&1
	rc=$?
	check "$s: status loads it (exit $rc)" [ "$rc" -ne 2 ]
	warnings=$(grep 'warning:' "$TMP/status.out")
	check_eq "$s: status prints no warning" "$warnings" ""
done
done_testing
