#!/bin/sh
# study gc and other processes on the same store (issue 12). gc takes the
# writer lock as `run` does: it waits for a running run (or, with --no-wait,
# exits 1 naming it), and a run started during a gc waits for it. Readers
# never wait: caught in the middle of a sweep (gc held there, see below),
# status, show, log, results and verify all work and see a consistent store.
#
# Holding gc mid-sweep without timing: its crash-step trace (STUDY_CRASH_TRACE,
# fsutil.h) goes to a FIFO that this script reads up to the first object
# removal and then stops reading; gc blocks writing its trace once the pipe
# is full (64 KiB), with far more objects still to remove.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/reliability.sh"
cd "$TOP"
S="$TMP/store"
TOY=${TOY_BIN_DIR:-$TOP/stages/bin}/toystage
cat >"$TMP/slow.yaml" <<YAML
study: slow
root: $TOP
data:
  slow: {run: [$TOY, sleep, --seconds, "2", --out, "\${out}"]}
YAML
# 2000 files whose content depends on params.tag
many() {
	{ echo "study: many"; echo "root: $TOP"; cat <<'YAML'
data:
  files:
    run: [sh, -c, 'i=0; while [ $i -lt 2000 ]; do echo "$0 $i" >"$1/f$i"; i=$((i + 1)); done',
          "${params.tag}", "${out}"]
    params: {tag: TAG}
YAML
	} | sed "s/TAG/$1/"
}
many a >"$TMP/a.yaml"
many b >"$TMP/b.yaml"

# 1. a gc waits for a running run
"$STUDY" run "$TMP/slow.yaml" --store "$S" >"$TMP/slow.out" 2>&1 &
runpid=$!
i=0
while [ "$(cat "$S/lock" 2>/dev/null)" != "$runpid" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
"$STUDY" gc --store "$S" --no-wait >/dev/null 2>"$TMP/err"
check_eq "gc --no-wait while a run holds the store: exit 1" "$?" 1
check_eq "... naming the run" "$(cat "$TMP/err")" \
	"study: error: store '$S' is locked by another run (pid $runpid)"
"$STUDY" gc --store "$S" --dry-run --no-wait >/dev/null 2>&1
check_eq "gc --dry-run --no-wait too (what it lists must be what gc would do)" "$?" 1
"$STUDY" gc --store "$S" >"$TMP/gc.out" 2>"$TMP/gc.err"
check_eq "gc waits for the run, then succeeds" "$?" 0
check_eq "... saying whom it waited for" "$(cat "$TMP/gc.err")" \
	"study: waiting for the store lock held by pid $runpid"
wait $runpid
check_eq "the run succeeded" "$?" 0
check_eq "gc kept what the run had just made" "$(tail -1 "$TMP/gc.out")" \
	"gc 1: removed 0 trees, 0 objects, 0 cache entries and 0 temporaries: 0 bytes freed"

# 2. readers and a run during a gc held mid-sweep
"$STUDY" run "$TMP/a.yaml" --store "$S" >/dev/null 2>&1 &&
	"$STUDY" run "$TMP/b.yaml" --store "$S" >/dev/null 2>&1
check_eq "two runs of 2000 files each" "$?" 0
mkfifo "$TMP/trace"
STUDY_CRASH_TRACE="$TMP/trace" "$STUDY" gc --store "$S" >"$TMP/gc.out" 2>&1 &
gcpid=$!
exec 3<"$TMP/trace"
seen=0
while IFS= read -r line <&3; do
	seen=$((seen + 1))
	case $line in *" unlink $S/objects/"*) break ;; esac
done
check "gc has started removing objects" sh -c "echo '$line' | grep -q ' unlink .*/objects/'"
check_eq "gc holds the lock" "$(cat "$S/lock")" "$gcpid"
"$STUDY" run "$TMP/b.yaml" --store "$S" --no-wait >/dev/null 2>"$TMP/err"
check_eq "run --no-wait during gc: exit 1, naming gc" "$?:$(cat "$TMP/err")" \
	"1:study: error: store '$S' is locked by another run (pid $gcpid)"
"$STUDY" status "$TMP/b.yaml" --store "$S" >"$TMP/status" 2>&1
check_eq "status during gc: exit 0, the latest study up to date" "$?:$(tail -1 "$TMP/status")" \
	"0:1 of 1 stages up to date, 0 will run"
"$STUDY" status "$TMP/slow.yaml" --store "$S" >"$TMP/status" 2>&1
check_eq "... and the other study too" "$?:$(tail -1 "$TMP/status")" \
	"0:1 of 1 stages up to date, 0 will run"
"$STUDY" show data/files --store "$S" >/dev/null 2>&1
check_eq "show during gc: exit 0" "$?" 0
"$STUDY" log --store "$S" >/dev/null 2>&1 && "$STUDY" results --store "$S" >/dev/null 2>&1
check_eq "log and results during gc: exit 0" "$?" 0
"$STUDY" verify --store "$S" --no-git >"$TMP/verify" 2>&1
check_eq "verify during gc (its plan recorded): exit 0" "$?" 0
check "... the old output listed as collected" grep -qx \
	"verify: collected: 1 tree recorded by run 2 was removed by gc 2" "$TMP/verify"
check "gc is still in the middle of its sweep" kill -0 "$gcpid"
left=$(find "$S/objects" -type f | wc -l)
check "... with old objects still to remove" [ "$left" -gt 2500 ]
echo "# held gc after $seen trace lines; $left objects left in the store"
"$STUDY" run "$TMP/b.yaml" --store "$S" >"$TMP/run.out" 2>"$TMP/run.err" &
runpid=$!
i=0
while ! grep -q waiting "$TMP/run.err" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
cat <&3 >/dev/null
exec 3<&-
wait $gcpid
check_eq "gc, let go, finishes" "$?" 0
check_eq "... removing the old run's 2000 objects" "$(tail -1 "$TMP/gc.out" | cut -d, -f1,2)" \
	"gc 2: removed 1 tree, 2000 objects"
wait $runpid
check_eq "the run started during gc waited and succeeded" "$?" 0
check_eq "... saying whom it waited for" "$(head -1 "$TMP/run.err")" \
	"study: waiting for the store lock held by pid $gcpid"
check "... all from the cache" grep -q 'ran 0, cached 1, failed 0' "$TMP/run.out"
"$STUDY" verify --store "$S" --no-git >/dev/null 2>&1
check_eq "verify after it all: exit 0" "$?" 0
done_testing
