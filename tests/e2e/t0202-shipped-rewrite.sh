#!/bin/sh
# End to end: the shipped studies, rewritten with defaults and vars, expand
# to the same DAG as the flat files they replaced (tests/studies/*-flat.yaml),
# and a store filled by the flat example serves the rewritten one entirely
# from the cache: the rewrite changed no cache key.
. "$(dirname "$0")/lib.sh"
cd "$TOP"
for s in six-models quick example; do
	"$STUDY" dag "studies/$s.yaml" --format json >"$TMP/new.json" 2>"$TMP/err"; rc=$?
	"$STUDY" dag "tests/studies/$s-flat.yaml" --format json >"$TMP/flat.json" 2>>"$TMP/err"
	check_eq "studies/$s.yaml loads" "$rc" 0
	cmp -s "$TMP/new.json" "$TMP/flat.json"
	check_eq "studies/$s.yaml: same stages, ids and inputs as tests/studies/$s-flat.yaml" "$?" 0
done
check_eq "six-models expands to 1449 stages (2 data, 6 models, 5 seeds x (18 methods, 18 mitigations, 252 evaluations), report)" \
	"$("$STUDY" dag studies/six-models.yaml --format json | grep -c '"id"')" 1449
check "six-models is shorter than its flat form (lines other than comments)" \
	[ "$(grep -vc '^#' studies/six-models.yaml)" -lt "$(grep -vc '^#' tests/studies/six-models-flat.yaml)" ]

S="$TMP/store"
out=$("$STUDY" run tests/studies/example-flat.yaml --store "$S" --json 2>/dev/null)
check_eq "the flat example runs all 26 stages" "$(echo "$out" | json_field ran)" 26
out=$("$STUDY" run studies/example.yaml --store "$S" --json 2>/dev/null)
check_eq "the rewritten example then runs nothing" "$(echo "$out" | json_field ran)" 0
check_eq "... every stage is a cache hit" "$(echo "$out" | json_field cached)" 26
done_testing
