#!/bin/sh
# tests/slurm/down.sh: stop what tests/slurm/up.sh started (the daemons it
# listed in /run/study-slurm/started), nothing else: a cluster that was
# already running before up.sh keeps running. The jobs are cancelled first
# when slurmctld is among them. --all: stop munged, slurmctld and slurmd
# whoever started them (only with the configuration up.sh writes).
# Idempotent; root only.
set -u
STATE_DIR=/run/study-slurm
[ "$(id -u)" = 0 ] || { echo "slurm: error: tests/slurm/down.sh must run as root" >&2; exit 2; }
[ -d "$STATE_DIR" ] || { echo "slurm: nothing to stop"; exit 0; }
exec 9>"$STATE_DIR/lock"
flock 9

if [ "${1:-}" = --all ]; then
	if [ -f /etc/slurm/slurm.conf ] && ! grep -q 'written by tests/slurm/up.sh' /etc/slurm/slurm.conf; then
		echo "slurm: error: /etc/slurm/slurm.conf was not written by tests/slurm/up.sh; not stopping it" >&2
		exit 3
	fi
	list="slurmd slurmctld munged"
else
	list=$(cat "$STATE_DIR/started" 2>/dev/null)
fi
[ -n "$list" ] || { echo "slurm: nothing to stop"; exit 0; }

pidfile() {
	case $1 in
	munged) echo /run/munge/munged.pid ;;
	*) echo "/run/$1.pid" ;;
	esac
}
live() { # live NAME: the pid of a running (not zombie) NAME from its pid file
	pid=$(cat "$(pidfile "$1")" 2>/dev/null) || return 1
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] || return 1
	case $(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1) in Z | '') return 1 ;; esac
	echo "$pid"
}
has() { case " $(echo $list) " in *" $1 "*) return 0 ;; esac; return 1; }

# the jobs first, while slurmctld and slurmd can still end them
if has slurmctld && live slurmctld >/dev/null && scontrol ping 2>/dev/null | grep -q 'is UP'; then
	ids=$(squeue -h -o %i 2>/dev/null)
	if [ -n "$ids" ]; then
		scancel $ids 2>/dev/null
		i=0
		while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
	fi
fi
# compute side first, munge last
for d in slurmd slurmctld munged; do
	has $d || continue
	if victim=$(live $d); then
		kill -TERM "$victim" 2>/dev/null
		i=0
		while live $d >/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		live $d >/dev/null && kill -KILL "$victim" 2>/dev/null
		echo "slurm: stopped $d (pid $victim)"
	fi
	# slurmctld (it runs as user slurm) cannot remove its own pid file
	[ $d = munged ] || rm -f "$(pidfile $d)"
done
rm -f "$STATE_DIR/started"
echo "slurm: down"
