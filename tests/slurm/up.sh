#!/bin/sh
# tests/slurm/up.sh: a single-node SLURM cluster on this machine, for the
# tests and `make bench` (docs/cluster.md, "A cluster for the tests").
#
# Installs Debian's slurm-wlm and munge when missing (--no-install-recommends),
# writes the configuration below into /etc/slurm, and starts munged, slurmctld
# and slurmd as plain daemons (no systemd, no init scripts). Idempotent: run
# again while all is up, it checks readiness and returns (about 0.1 s); with a
# changed configuration it restarts the two SLURM daemons. Root only.
#
# The node advertises STUDY_SLURM_CPUS CPUs (default 8, more than the machine
# has: SlurmdParameters=config_overrides) so that tests run jobs side by side,
# and STUDY_SLURM_GPUS fake GPUs (default 2): character devices with NVIDIA's
# major number that nothing opens, enough for --gres=gpu:N scheduling. Three
# partitions: debug (the default), batch, and low, whose jobs the others
# preempt (PreemptMode=CANCEL), so that tests see SLURM preempt a job. Where
# the cgroup v1 memory controller is mounted, jobs run under task/cgroup, which
# enforces --mem (OUT_OF_MEMORY) and kills every process of a job when it ends.
#
# What this script starts is listed in $STATE_DIR/started; tests/slurm/down.sh
# stops exactly those. A configuration this script did not write is never
# touched (exit 3). Prints "slurm: ready ..." on success; on failure the tail of
# each daemon log and exit 1.
set -eu

CONF_DIR=/etc/slurm
STATE_DIR=/run/study-slurm
LIB=/var/lib/slurm
LOGS=/var/log/slurm
GPU_DIR=$LIB/study-fakegpu
MARK='# written by tests/slurm/up.sh (study); tests/slurm/down.sh stops what it started'
CPUS=${STUDY_SLURM_CPUS:-8}
GPUS=${STUDY_SLURM_GPUS:-2}
TIMEOUT=${STUDY_SLURM_TIMEOUT:-60}

say() { echo "slurm: $*"; }
fail() {
	say "error: $*" >&2
	for f in $LOGS/slurmctld.log $LOGS/slurmd.log /var/log/munge/munged.log; do
		[ -f "$f" ] && { echo "--- last lines of $f" >&2; tail -n 12 "$f" >&2; }
	done
	exit 1
}

[ "$(id -u)" = 0 ] || { echo "slurm: error: tests/slurm/up.sh must run as root" >&2; exit 2; }
mkdir -p "$STATE_DIR"
# one up.sh or down.sh at a time
exec 9>"$STATE_DIR/lock"
flock 9

# ---- packages ---------------------------------------------------------------
missing=0
for b in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/bin/sbatch /usr/bin/sacct /usr/sbin/munged /usr/bin/munge; do
	[ -x "$b" ] || missing=1
done
if [ "$missing" = 1 ]; then
	say "installing slurm-wlm and munge (apt-get, --no-install-recommends)"
	aptlog=$STATE_DIR/apt.log
	export DEBIAN_FRONTEND=noninteractive
	apt-get -q -y -o DPkg::Lock::Timeout=600 update >"$aptlog" 2>&1 ||
		fail "apt-get update failed (see $aptlog)"
	apt-get -q -y -o DPkg::Lock::Timeout=600 install --no-install-recommends slurm-wlm munge \
		>>"$aptlog" 2>&1 || fail "apt-get install slurm-wlm munge failed (see $aptlog)"
fi

# ---- refuse a configuration that is not ours ---------------------------------
if [ -f "$CONF_DIR/slurm.conf" ] && ! grep -qxF "$MARK" "$CONF_DIR/slurm.conf"; then
	echo "slurm: error: $CONF_DIR/slurm.conf was not written by tests/slurm/up.sh; not touching it" >&2
	exit 3
fi

# ---- daemons: pid files checked against /proc (PID 1 here reaps late) --------
running() { # running NAME PIDFILE: prints the pid of a live NAME
	pid=$(cat "$2" 2>/dev/null) || return 1
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] || return 1
	state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)
	[ "$state" != Z ] && [ -n "$state" ] || return 1
	echo "$pid"
}
stop() { # stop NAME PIDFILE: TERM, KILL after 10 s
	pid=$(running "$1" "$2") || return 0
	kill -TERM "$pid" 2>/dev/null || true
	i=0
	while running "$1" "$2" >/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if running "$1" "$2" >/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
}
started() { # record that we started NAME
	grep -qx "$1" "$STATE_DIR/started" 2>/dev/null || echo "$1" >>"$STATE_DIR/started"
}
wait_for() { # wait_for COMMAND...: true once it succeeds, false after TIMEOUT seconds
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -le $((TIMEOUT * 10)) ] || return 1
		sleep 0.1
	done
}

# ---- munge ---------------------------------------------------------------------
if [ ! -s /etc/munge/munge.key ]; then
	install -d -o munge -g munge -m 0700 /etc/munge
	runuser -u munge -- /usr/sbin/mungekey --create --keyfile=/etc/munge/munge.key
fi
munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
if ! munge_works; then
	install -d -o munge -g munge -m 0755 /run/munge
	# a munged killed with SIGKILL leaves its socket and pid file behind
	if ! running munged /run/munge/munged.pid >/dev/null; then
		rm -f /run/munge/munged.pid /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
	fi
	runuser -u munge -- /usr/sbin/munged 9>&- || fail "munged did not start"
	started munged
	wait_for munge_works || fail "munge -n | unmunge does not work"
fi

# ---- configuration -----------------------------------------------------------------
host=$(hostname -s)
mem=$(/usr/sbin/slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n 1)
[ -n "$host" ] && [ -n "$mem" ] || fail "cannot tell this node's name and memory (slurmd -C)"
if [ "$GPUS" -gt 0 ]; then
	mkdir -p "$GPU_DIR"
	i=0
	while [ $i -lt "$GPUS" ]; do
		# gres/gpu drops a GPU whose File= is not a device node
		[ -c "$GPU_DIR/nvidia$i" ] || { rm -f "$GPU_DIR/nvidia$i"; mknod -m 0666 "$GPU_DIR/nvidia$i" c 195 $i; } ||
			fail "cannot create the fake GPU device $GPU_DIR/nvidia$i (mknod)"
		i=$((i + 1))
	done
fi
if [ -d /sys/fs/cgroup/memory ] && [ -d /sys/fs/cgroup/freezer ]; then cgroup=1; else cgroup=0; fi

new=$STATE_DIR/new
mkdir -p "$new"
{
	echo "$MARK"
	echo "ClusterName=study-ci"
	echo "SlurmctldHost=$host(127.0.0.1)"
	echo "SlurmUser=slurm"
	echo "AuthType=auth/munge"
	echo "CredType=cred/munge"
	echo "MpiDefault=none"
	echo "MailProg=/bin/true"
	if [ $cgroup = 1 ]; then
		echo "ProctrackType=proctrack/cgroup"
		echo "TaskPlugin=task/cgroup"
	else
		echo "ProctrackType=proctrack/linuxproc"
		echo "TaskPlugin=task/none"
	fi
	echo "JobAcctGatherType=jobacct_gather/none"
	echo "AccountingStorageType=accounting_storage/none"
	# finished jobs, once slurmctld forgets them: `sacct -c` reads this file
	echo "JobCompType=jobcomp/filetxt"
	echo "JobCompLoc=$LOGS/jobcomp.log"
	echo "SchedulerType=sched/backfill"
	# start batch jobs on the next scheduler tick (1 s), not every 3 s
	echo "SchedulerParameters=batch_sched_delay=0"
	echo "SelectType=select/cons_tres"
	echo "SelectTypeParameters=CR_CPU_Memory"
	# without it a job without --mem takes the whole node's memory
	echo "DefMemPerCPU=1024"
	# advertise more CPUs than there are
	echo "SlurmdParameters=config_overrides"
	echo "ReturnToService=2"
	# finished jobs stay in scontrol for half an hour; up to 50,000 of them
	echo "MinJobAge=1800"
	echo "MaxJobCount=50000"
	echo "KillWait=5"
	echo "SlurmctldPidFile=/run/slurmctld.pid"
	echo "SlurmdPidFile=/run/slurmd.pid"
	echo "StateSaveLocation=$LIB/slurmctld"
	echo "SlurmdSpoolDir=$LIB/slurmd"
	echo "SlurmctldLogFile=$LOGS/slurmctld.log"
	echo "SlurmdLogFile=$LOGS/slurmd.log"
	echo "SlurmctldDebug=info"
	echo "SlurmdDebug=info"
	gres=
	if [ "$GPUS" -gt 0 ]; then
		echo "GresTypes=gpu"
		gres=" Gres=gpu:$GPUS"
	fi
	echo "NodeName=$host NodeAddr=127.0.0.1 CPUs=$CPUS Boards=1 SocketsPerBoard=1 CoresPerSocket=$CPUS ThreadsPerCore=1 RealMemory=$mem$gres State=UNKNOWN"
	# a job in "low" is cancelled (PREEMPTED) when one of the others needs
	# its CPUs; debug and batch never preempt each other
	echo "PreemptType=preempt/partition_prio"
	echo "PreemptMode=CANCEL"
	echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP PriorityTier=2"
	echo "PartitionName=batch Nodes=ALL Default=NO MaxTime=INFINITE State=UP PriorityTier=2"
	echo "PartitionName=low Nodes=ALL Default=NO MaxTime=INFINITE State=UP PriorityTier=1"
} >"$new/slurm.conf"
{
	echo "$MARK"
	echo "AutoDetect=off"
	[ "$GPUS" -gt 0 ] && echo "NodeName=$host Name=gpu File=$GPU_DIR/nvidia[0-$((GPUS - 1))]"
	true
} >"$new/gres.conf"
{
	echo "$MARK"
	echo "CgroupPlugin=cgroup/v1"
	echo "ConstrainCores=yes"
	echo "ConstrainRAMSpace=yes"
	echo "ConstrainDevices=no"
} >"$new/cgroup.conf"
[ $cgroup = 1 ] || : >"$new/cgroup.conf"

install -d -m 0755 "$CONF_DIR"
install -d -o slurm -g slurm -m 0755 "$LIB/slurmctld" "$LIB/slurmd" "$LOGS"
changed=0
for f in slurm.conf gres.conf cgroup.conf; do
	if [ -s "$new/$f" ]; then
		cmp -s "$new/$f" "$CONF_DIR/$f" || { install -m 0644 "$new/$f" "$CONF_DIR/$f"; changed=1; }
	elif [ -f "$CONF_DIR/$f" ]; then
		rm -f "$CONF_DIR/$f"
		changed=1
	fi
done
rm -rf "$new"
if [ $changed = 1 ]; then
	say "configuration written to $CONF_DIR ($CPUS CPUs, $GPUS fake GPUs, cgroup $cgroup)"
	stop slurmd /run/slurmd.pid
	stop slurmctld /run/slurmctld.pid
fi

# ---- slurmctld, slurmd ---------------------------------------------------------------
if ! running slurmctld /run/slurmctld.pid >/dev/null; then
	/usr/sbin/slurmctld </dev/null >/dev/null 2>&1 9>&- || fail "slurmctld did not start"
	started slurmctld
fi
ctld_up() { scontrol ping 2>/dev/null | grep -q 'is UP'; }
wait_for ctld_up || fail "slurmctld does not answer (scontrol ping)"
if ! running slurmd /run/slurmd.pid >/dev/null; then
	/usr/sbin/slurmd </dev/null >/dev/null 2>&1 9>&- || fail "slurmd did not start"
	started slurmd
fi

# the node: usable, or resumed once when a past failure left it drained or down
node_usable() {
	case $(sinfo -h -N -n "$host" -o %T 2>/dev/null | head -n 1) in
	idle* | mixed* | allocated* | completing*) return 0 ;;
	*drain* | *down* | *fail*)
		scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
		return 1 ;;
	*) return 1 ;;
	esac
}
wait_for node_usable || fail "node $host is not usable: $(sinfo -h -N -o '%T, %E' 2>/dev/null | head -n 1)"
say "ready: node $host, $(sinfo -h -N -o '%c CPUs, %m MB, %G' | head -n 1), $(sinfo -V)"
