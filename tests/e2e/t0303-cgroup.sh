#!/bin/sh
# End to end: resources.mem through cgroup v2 (pipeline/memlimit.h). With
# $STUDY_CGROUP naming a directory whose cgroup.subtree_control holds
# "memory", a stage with mem gets its own cgroup there, study-PID-N, with
# memory.max = its mem in bytes and memory.swap.max = 0, and the stage's
# process moves itself into it before it runs. A plain directory stands in
# for cgroupfs here: the cgroup is made, and the move fails for want of the
# kernel's cgroup.procs, which fails the stage with that reason (no stage
# runs outside the cgroup it was given). A stage without mem is not put in
# one. Where this machine delegates a real cgroup v2 memory controller, a
# stage over its mem is OOM-killed by the kernel and recorded as such;
# elsewhere that part is skipped (the watchdog is t0300's).
. "$(dirname "$0")/lib.sh"
cd "$TOP"
TOY=${TOY_BIN_DIR:-$TOP/stages/bin}/toystage
q() { sqlite3 "$1/provenance.db" "$2"; }
cat >"$TMP/m.yaml" <<YAML
study: cg
root: $TOP
data:
  limited: {run: ["$TOY", memhog, --mib, "1", --out, "\${out}"], resources: {mem: 48M}}
  free: {run: ["$TOY", memhog, --mib, "1", --out, "\${out}"]}
YAML
CG="$TMP/cgroup"
mkdir "$CG"
echo "cpu memory" >"$CG/cgroup.subtree_control"
STUDY_CGROUP="$CG" "$STUDY" run "$TMP/m.yaml" --store "$TMP/s" -k >/dev/null 2>"$TMP/err"
check_eq "the stage with mem fails: it cannot join its (stand-in) cgroup" "$?" 1
dir=$(ls -d "$CG"/study-* 2>/dev/null)
check_eq "one cgroup was made, for the stage with mem" "$(echo "$dir" | grep -c study-)" 1
check_eq "memory.max is its mem in bytes" "$(cat "$dir/memory.max" 2>/dev/null)" 50331648
check_eq "memory.swap.max is 0" "$(cat "$dir/memory.swap.max" 2>/dev/null)" 0
check_eq "the reason says it could not move into it" \
	"$(q "$TMP/s" "SELECT reason FROM executions WHERE stage_id = 'data/limited'")" \
	"cannot move the stage into '$dir/cgroup.procs': No such file or directory"
check_eq "the stage without mem ran, not in a cgroup" \
	"$(q "$TMP/s" "SELECT status || ' ' || coalesce(mem_enforcement, '-') FROM executions WHERE stage_id = 'data/free'")" \
	"ran -"
echo "cpu io" >"$CG/cgroup.subtree_control"
STUDY_CGROUP="$CG" "$STUDY" run "$TMP/m.yaml" --store "$TMP/s2" >/dev/null 2>&1
check_eq "memory not delegated there: the watchdog enforces it instead" \
	"$(q "$TMP/s2" "SELECT status || ' ' || mem_enforcement FROM executions WHERE stage_id = 'data/limited'")" \
	"ran watchdog"

# a real delegated cgroup v2 memory controller, if this machine has one
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
mnt=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
real="$mnt$own"
[ "$own" = / ] && real=$mnt
if [ -n "$mnt" ] && grep -qw memory "$real/cgroup.subtree_control" 2>/dev/null && [ -w "$real" ]; then
	cat >"$TMP/hog.yaml" <<YAML
study: cg
root: $TOP
data:
  limited: {run: ["$TOY", memhog, --mib, "200", --out, "\${out}"], resources: {mem: 48M}}
YAML
	"$STUDY" run "$TMP/hog.yaml" --store "$TMP/s3" -k >/dev/null 2>&1
	check_eq "a real cgroup: the stage over its mem is stopped by the kernel" \
		"$(q "$TMP/s3" "SELECT over_memory || ' ' || mem_enforcement || ' ' || substr(reason, 1, 39) FROM executions WHERE stage_id = 'data/limited'")" \
		"1 cgroup over memory limit (resources.mem 48M"
else
	ok "a real cgroup v2 memory controller stops a stage over its mem # SKIP none is delegated to this process (cgroup '${real:-none}')"
fi
done_testing
