#!/bin/sh
# tests/slurm/ensure.sh: make sure a SLURM cluster answers, for a test that
# needs one. Exit 0: `scontrol ping` works and the node takes jobs (started
# with tests/slurm/up.sh when not running and this is root). Exit 77 with one
# line on stdout saying why not (the test then SKIPs): not root and no
# cluster, or up.sh failed (its output is in $TMPDIR/study-slurm-up.log).
here=$(cd "$(dirname "$0")" && pwd)
usable() {
	command -v scontrol >/dev/null 2>&1 && scontrol ping 2>/dev/null | grep -q 'is UP' &&
		sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated|completing)'
}
usable && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "no SLURM cluster answers and tests/slurm/up.sh needs root"
	exit 77
fi
log=${TMPDIR:-/tmp}/study-slurm-up.log
if ! sh "$here/up.sh" >"$log" 2>&1; then
	echo "tests/slurm/up.sh could not start a cluster: $(grep 'error' "$log" | head -n 1) (log: $log)"
	exit 77
fi
usable && exit 0
echo "tests/slurm/up.sh ran but no SLURM cluster answers (log: $log)"
exit 77
