# tests/slurm/lib.sh: helpers for the SLURM executor's end-to-end tests
# (tests/e2e/t032*), sourced after tests/e2e/lib.sh.

# slurm_or_skip WHAT: a cluster answers (started by tests/slurm/ensure.sh
# when this is root), else one "ok - WHAT # SKIP why" and the test ends.
slurm_or_skip() {
	if why=$(sh "$TOP/tests/slurm/ensure.sh"); then
		# a test that fails half way must not leave its jobs to the next
		trap 'cancel_mine; chmod -R u+w "$TMP" 2>/dev/null; rm -rf "$TMP"' EXIT
		return 0
	fi
	ok "$1 # SKIP $why"
	exit 0
}

# cancel_mine: cancel the jobs of this test's stores (their comment names a
# work directory under $TMP) that SLURM still queues or runs
cancel_mine() {
	squeue -h -u "$(id -u)" -O 'JobID:|,Comment:' 2>/dev/null |
		awk -F'|' -v p="study $TMP/" 'index($2, p) == 1 { print $1 }' | xargs -r scancel 2>/dev/null
}

# plain_only WHAT: under the sanitizers (SAN=1) this test is skipped: it
# exercises SLURM's side (daemons restarted, limits) more than ours, and the
# sanitized suite runs the SLURM tests that drive the orchestrator's code
# paths (docs/cluster.md, "Tests").
plain_only() {
	if [ "${SAN:-}" = 1 ]; then
		ok "$1 # SKIP run in the plain build only (SAN=1)"
		exit 0
	fi
}

# job_of STORE STAGE: the id of the job a run submitted for STAGE (from the
# note in its work directory); empty until submitted.
job_of() {
	cat "$1"/work/*/job 2>/dev/null | awk -v s="$2" '$1 == "slurm" && $3 == s && $2 != "-" { print $2 }' | tail -n 1
}

# job_state ID: SLURM's state of job ID ("" when SLURM does not know it).
job_state() {
	squeue -h -t all -j "$1" -O 'State:' 2>/dev/null | tr -d ' '
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds (polling every 0.1 s);
# false after SECONDS.
wait_for() {
	n=$(($1 * 10))
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# running STORE STAGE: the stage's job runs
running() {
	id=$(job_of "$1" "$2")
	[ -n "$id" ] && [ "$(job_state "$id")" = RUNNING ]
}

# q STORE SQL: a query on the store's provenance
q() { sqlite3 "$1/provenance.db" "$2"; }

# own_cluster_or_skip WHAT: the test stops and starts SLURM's daemons, which
# it does only as root and only to the cluster tests/slurm/up.sh configured.
own_cluster_or_skip() {
	if [ "$(id -u)" != 0 ] || ! grep -qs 'written by tests/slurm/up.sh' /etc/slurm/slurm.conf; then
		ok "$1 # SKIP needs root and the cluster of tests/slurm/up.sh"
		exit 0
	fi
}

# daemon_pid NAME: the pid of SLURM daemon NAME (slurmd, slurmctld), from
# its pid file, when it runs
daemon_pid() {
	p=$(cat "/run/$1.pid" 2>/dev/null) || return 1
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$1" ] && echo "$p"
}
