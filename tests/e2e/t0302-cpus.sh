#!/bin/sh
# End to end: resources.cpus against what the local executor can ever give
# (issue 13): more cpus than the machine has (or -j gives, when larger) is
# refused before anything runs, naming the file, line and column; a stage
# within that is clamped to -j as before (it runs alone, STUDY_THREADS = -j).
. "$(dirname "$0")/lib.sh"
cd "$TOP"
TOY=${TOY_BIN_DIR:-$TOP/stages/bin}/toystage
ncpu=$(getconf _NPROCESSORS_ONLN)
cat >"$TMP/c.yaml" <<YAML
study: cpus
root: $TOP
data:
  wide:
    run: [sh, -c, 'echo \$STUDY_THREADS > "\$0/threads"', "\${out}"]
    resources: {cpus: 1024}
YAML
"$STUDY" run "$TMP/c.yaml" --store "$TMP/s" -j 1 >/dev/null 2>"$TMP/err"; rc=$?
if [ "$ncpu" -ge 1024 ]; then
	ok "cpus: 1024 on a machine with fewer CPUs # SKIP this machine has $ncpu"
else
	check_eq "cpus: 1024 on $ncpu CPUs: exit 2 and the exact message" "$rc:$(cat "$TMP/err")" \
		"2:study: error: $TMP/c.yaml:6:23: stage 'data/wide' asks for 1024 cpus (resources.cpus), but this machine has $ncpu CPU$([ "$ncpu" = 1 ] || echo s)"
	check "... before the store is touched" test ! -e "$TMP/s"
fi
"$STUDY" run "$TMP/c.yaml" --store "$TMP/s" -j 1024 >/dev/null 2>"$TMP/err"
check_eq "-j 1024 gives 1024 cpu slots: it runs" "$?" 0
sed 's/cpus: 1024/cpus: 1/' "$TMP/c.yaml" >"$TMP/one.yaml"
sed 's/cpus: 1024/cpus: 2/' "$TMP/c.yaml" >"$TMP/two.yaml"
"$STUDY" run "$TMP/two.yaml" --store "$TMP/s2" -j 1 >/dev/null 2>&1
check_eq "cpus: 2 under -j 1 still runs (clamped to the slots)" "$?" 0
out=$("$STUDY" show data/wide --store "$TMP/s2" | awk '/^output/ { getline; print $1 }')
check_eq "... with STUDY_THREADS 1" "$(cat "$out/threads" 2>/dev/null)" 1
"$STUDY" run "$TMP/c.yaml" --store "$TMP/s3" -j 2000 --dry-run >"$TMP/out" 2>&1
check_eq "--dry-run with -j 2000: would run" "$?:$(tail -1 "$TMP/out")" \
	"0:dry run: would run 1, cached 0, failed 0"
done_testing
