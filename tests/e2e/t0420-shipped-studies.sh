#!/bin/sh
# The studies shipped in studies/ run no shell (issue 11, kind 1): every stage
# execs a program built from this repository (stages/bin/...) with plain argv,
# or, for the real-model kit (issue 16), python3 on a script of stages/llm
# named through ${root} (so the script is hashed; the study's code: lists the
# modules it imports, tests/e2e/t0801), so that the program is in the stage's
# cache key, and loading each study prints no `warning:` (a shell or
# interpreter with no hashed program).
# Each step of a multi-step stage is held to the same rules.
# Cheap: nothing runs, `status` only plans against an empty store.
. "$(dirname "$0")/lib.sh"
cd "$TOP" || exit 1

# The programs of a `run`: "run: [prog, ..." or "run: [[prog, ..." on the
# line, or, for a multi-step stage written as a block, each "- [prog, ..."
# step line after a bare "run:" (docs/study-format.md, "Multi-step stages").
# Prints "LINE: text" for each program that is not under stages/bin/ (or
# python3 on "${root}/stages/llm/NAME.py").
programs_not_built_here() {
	awk '
	/^[[:space:]]*run:/ {
		rest = $0; sub(/^[[:space:]]*run:[[:space:]]*/, "", rest)
		steps = rest == ""
		if (!steps && rest !~ /^\[\[?stages\/bin\/[a-z-]+,/ &&
		    rest !~ /^\[\[?python3, "\$\{root\}\/stages\/llm\/[a-z_]+\.py",/) print NR ": " $0
		next
	}
	steps && /^[[:space:]]*-[[:space:]]/ {
		if ($0 !~ /^[[:space:]]*-[[:space:]]*\[stages\/bin\/[a-z-]+,/) print NR ": " $0
		next
	}
	steps && /^[[:space:]]*[a-z_]+:/ { steps = 0 }
	' "$1"
}

for s in studies/*.yaml; do
	shells=$(grep -nE '(^|[[:space:]])(run:[[:space:]]*\[\[?|-[[:space:]]*\[|-)[[:space:]]*["'\'']?(/usr)?(/bin/)?(env["'\'']?[[:space:]]*,[[:space:]]*["'\'']?)?(sh|bash|dash|ksh|zsh)["'\'']?[[:space:]]*(,|$)' "$s")
	check_eq "$s: no stage runs a shell" "$shells" ""
	others=$(programs_not_built_here "$s")
	check_eq "$s: every run list starts with a program under stages/bin/ (or python3 on a stages/llm script)" "$others" ""
	"$STUDY" status "$s" --store "$TMP/store" >"$TMP/status.out" 2>&1
	rc=$?
	check "$s: status loads it (exit $rc)" [ "$rc" -ne 2 ]
	warnings=$(grep 'warning:' "$TMP/status.out")
	check_eq "$s: status prints no warning" "$warnings" ""
done
done_testing
