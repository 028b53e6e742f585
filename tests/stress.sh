#!/bin/sh
# `make stress`: the crash-safety test with many more kills (KILLS, default
# 120), then the concurrency and orphan tests a few times over. Prints the
# usual ok/not ok lines and a total; exits 1 on any failure.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
export STUDY_BIN=${STUDY_BIN:-$top/bin/study}
log=$(mktemp)
KILLS=${KILLS:-120} sh tests/e2e/t0700-crash.sh 2>/dev/null | tee "$log"
for i in 1 2 3; do
	sh tests/e2e/t0701-orphans.sh 2>/dev/null | tee -a "$log"
	sh tests/e2e/t0720-concurrency.sh 2>/dev/null | tee -a "$log"
done
passed=$(grep -c '^ok ' "$log")
failed=$(grep -c '^not ok ' "$log")
rm -f "$log"
echo "stress: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
