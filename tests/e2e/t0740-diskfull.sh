#!/bin/sh
# Disk full (issue 7): the store lives on a small tmpfs. A stage that runs out
# of space itself fails; a stage whose output fills the disk so that the store
# cannot take it (manifest, provenance) fails with a clear "No space left on
# device" or "disk is full" error. Either way: exit 1, no corrupt object,
# manifest or row, nothing cached for the stage, and once there is space
# again the study completes. Needs mount(2) (root); otherwise it says SKIP.
# (tests/unit/test_store_faults.c covers the same with injected write errors.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/reliability.sh"
cd "$TOP"
M="$TMP/mnt"
mkdir -p "$M"
if ! mount -t tmpfs -o size=3m tmpfs "$M" 2>/dev/null; then
	echo "ok - disk full tests # SKIP mount not permitted"
	exit 0
fi
trap 'umount "$M" 2>/dev/null; chmod -R u+w "$TMP" 2>/dev/null; rm -rf "$TMP"' EXIT
S="$M/store"
DB="$S/provenance.db"

# 1. the stage itself hits ENOSPC while writing its output
cat >"$TMP/own.yaml" <<YAML
study: own-enospc
root: $TOP
data:
  small: {run: [stages/bin/toystage, gen, --seed, "1", --n, "8", --out, "\${out}"]}
  huge: {run: [/bin/sh, -c, "head -c 8000000 /dev/zero >\"\$\$STUDY_OUT/big\""]}
YAML
"$STUDY" run "$TMP/own.yaml" --store "$S" -j 1 >"$TMP/own.out" 2>"$TMP/own.err"
check_eq "a stage that runs out of space fails the run (exit 1)" "$?" 1
check "its reason is recorded" grep -q 'failed  data/huge.*exit status 1' "$TMP/own.err"
check "the other stage was stored" grep -q 'ran .*data/small' "$TMP/own.err"
check "the store is consistent" store_check "$S"
check "the failed stage's work directory was removed" sh -c "[ -z \"\$(ls -A '$S/work')\" ]"

# 2. the output fits in the stage but leaves no room for the store's own writes
cat >"$TMP/fill.yaml" <<YAML
study: fill
root: $TOP
data:
  fill: {run: [/bin/sh, -c, "head -c 100000 /dev/urandom >\"\$\$STUDY_OUT/a\"; cat /dev/zero >\"\$\$STUDY_OUT/z\" 2>/dev/null; exit 0"]}
YAML
ncache=$(cache_count "$S")
"$STUDY" run "$TMP/fill.yaml" --store "$S" >"$TMP/fill.out" 2>"$TMP/fill.err"
rc=$?
check_eq "an output the store cannot take fails the run (exit 1)" "$rc" 1
check "the error says the disk is full" grep -qiE 'no space left on device|disk is full' "$TMP/fill.err"
grep -iE 'no space|disk is full|error' "$TMP/fill.err" | head -3 | sed 's/^/#   /'
check_eq "nothing was cached for it" "$(cache_count "$S")" "$ncache"
check "the store is consistent" store_check "$S"
check_eq "no execution is recorded as done for it" \
	"$(sqlite3 "$DB" "SELECT count(*) FROM executions WHERE stage_id = 'data/fill' AND status = 'ran'" 2>&1)" 0

# 3. with space again, everything completes
mount -o remount,size=64m "$M"
"$STUDY" run "$TMP/own.yaml" --store "$S" >/dev/null 2>"$TMP/own2.err"
check_eq "with space again, the stage that ran out of space succeeds" "$?" 0
copy_study studies/example.yaml "$TMP/ex.yaml"
"$STUDY" run "$TMP/ex.yaml" --store "$S" >/dev/null 2>"$TMP/ex.err"
check_eq "a study completes once there is space" "$?" 0
check "the store is consistent at the end" store_check "$S"
done_testing
