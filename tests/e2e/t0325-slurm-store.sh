#!/bin/sh
# End to end on a real SLURM cluster (SKIP without one, or without root for
# unshare): the store must be on a filesystem every node sees. The run is
# started in a private mount namespace whose store is a tmpfs that slurmd
# (outside it) cannot see, as a node without the shared filesystem would
# not: the job fails to launch, and the stage's reason names the node and
# the directory and says what the store needs.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/slurm/lib.sh"
cd "$TOP"
slurm_or_skip "a store the nodes do not see"
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
	ok "a store the nodes do not see # SKIP needs root and unshare (a private mount)"
	exit 0
fi
mkdir -p "$TMP/priv"
unshare -m sh -c "mount -t tmpfs tmpfs '$TMP/priv' && exec '$STUDY' run studies/example.yaml data/corpus \
	--store '$TMP/priv/s' --executor slurm" >"$TMP/out" 2>"$TMP/err"
rc=$?
if grep -q 'mount' "$TMP/err" && [ $rc != 1 ]; then
	ok "a store the nodes do not see # SKIP cannot mount a tmpfs here: $(head -n 1 "$TMP/err")"
	exit 0
fi
check_eq "the run fails" "$rc" 1
node=$(sinfo -h -N -o %N | head -n 1)
check "the reason names the node and what the store needs" grep -qE \
	"failed  data/corpus: node $node could not use the work directory $TMP/priv/s/work/[0-9a-f]{64}: the store must be on a filesystem every node sees \(SLURM: FAILED, JobLaunchFailure\)$" \
	"$TMP/err"
check_eq "nothing ran" "$(sed 's/^run [0-9]*: //' "$TMP/out")" \
	"ran 0, cached 0, failed 1, not selected 25"
done_testing
