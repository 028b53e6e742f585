#!/bin/sh
# Runs every test of one build flavour and prints one closing line
# "N passed, N failed, N skipped". Each test program or script prints TAP-like
# lines ("ok - ..." / "not ok - ..." / "ok - ... # SKIP why"); this script
# counts them.
# Environment (set by the Makefile): STUDY_BIN, TOY_BIN_DIR, UNIT_DIR, BUILD, SAN.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
log=$(mktemp)
status=0

run_one() {
	name=$1; shift
	echo "# $name"
	if "$@" >"$log.out" 2>&1; then :; else
		echo "not ok - $name exited with status $?" >>"$log.out"
	fi
	cat "$log.out"
	cat "$log.out" >>"$log"
}

for t in "$UNIT_DIR"/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *.d|*.o) continue ;; esac
	run_one "unit/$(basename "$t")" "$t"
done
for t in "$top/$BUILD"/tests/engine/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *.d|*.o) continue ;; esac
	run_one "engine/$(basename "$t")" "$t"
done
for t in tests/e2e/t*.sh tests/engine/t*.sh; do
	[ -f "$t" ] || continue
	run_one "$t" sh "$t"
done
# The real-model kit's tests (Python, tests/llm) check no C code: they run in
# the plain flavour only. Studies that run the kit through bin/study are e2e
# tests and run in both.
if [ "${SAN:-}" != 1 ]; then
	for t in tests/llm/t*.sh; do
		[ -f "$t" ] || continue
		run_one "$t" sh "$t"
	done
fi

# "ok - ... # SKIP why" (TAP's directive, any case) did not run its check: it
# is counted as skipped, not as passed
skipped=$(grep -ciE '^ok .*#[[:space:]]*skip' "$log")
passed=$(($(grep -c '^ok ' "$log") - skipped))
failed=$(grep -c '^not ok ' "$log")
rm -f "$log" "$log.out"
flavour=plain
[ "${SAN:-}" = 1 ] && flavour=sanitized
echo "$flavour: $passed passed, $failed failed, $skipped skipped"
# the Makefile's `test` target adds the flavours up for the closing line
echo "$passed $failed $skipped" >"$top/$BUILD/test-counts"
[ "$failed" -eq 0 ] || status=1
[ "$passed" -gt 0 ] || status=1
exit $status
