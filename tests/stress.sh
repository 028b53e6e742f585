#!/bin/sh
# `make stress`: the crash-safety test with many more kills (KILLS, default
# 120), then the concurrency and orphan tests a few times over. Prints the
# usual ok/not ok lines and a total; exits 1 on any failure.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
export STUDY_BIN=${STUDY_BIN:-$top/bin/study}
log=$(mktemp)
# one_test SCRIPT: its lines, and a "not ok" when it exits non-zero (a script
# that dies early prints no "not ok" of its own; a pipe into tee would hide it)
one_test() {
	sh "$1" 2>/dev/null >"$log.one"
	rc=$?
	[ $rc -eq 0 ] || echo "not ok - $1 exited with status $rc" >>"$log.one"
	cat "$log.one"
	cat "$log.one" >>"$log"
}
: >"$log"
KILLS=${KILLS:-120}
export KILLS
one_test tests/e2e/t0700-crash.sh
for i in 1 2 3; do
	one_test tests/e2e/t0701-orphans.sh
	one_test tests/e2e/t0720-concurrency.sh
done
skipped=$(grep -ciE '^ok .*#[[:space:]]*skip' "$log")
passed=$(($(grep -c '^ok ' "$log") - skipped))
failed=$(grep -c '^not ok ' "$log")
rm -f "$log" "$log.one"
echo "stress: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
