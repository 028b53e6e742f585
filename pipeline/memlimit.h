/*
 * memlimit: how the local executor enforces a stage's resources.mem
 * (docs/study-format.md, "Resources"). Two mechanisms, the first that works:
 *
 *   cgroup    cgroup v2: one cgroup per stage under a directory delegated to
 *             study, with memory.max = the limit and memory.swap.max = 0; the
 *             kernel's OOM killer stops the stage at the limit, and
 *             memory.events' oom_kill count says it did. The directory is
 *             $STUDY_CGROUP when set, else the orchestrator's own cgroup; it
 *             is usable when "memory" is in its cgroup.subtree_control and it
 *             is writable (a service with Delegate=yes and the memory
 *             controller enabled for its children, a container's delegated
 *             cgroup).
 *   watchdog  elsewhere (cgroup v1 machines, cgroup v2 without delegation):
 *             the resident memory of the stage's process group is sampled
 *             every MEMLIMIT_WATCH_S seconds and the group is killed (KILL)
 *             once it is above the limit; and a stage whose own peak RSS
 *             (the launcher's measure) ended above the limit fails too, so a
 *             spike shorter than the interval is still caught, after the
 *             fact. Caveats: a spike can exceed the limit for up to one
 *             interval before the kill; RSS is summed over the group's
 *             processes (pages they share count once per process); a
 *             process that leaves the group (setsid) is not counted; memory
 *             that is not resident (swapped out) is not counted.
 *
 * Why not RLIMIT_AS or RLIMIT_DATA: they limit address space, not memory.
 * Runtimes that reserve address space up front (CUDA, the JVM, Go,
 * AddressSanitizer) fail at start under a small limit, and an allocation
 * that fails shows as an ordinary error exit, so "over memory limit" could
 * not be told from any other failure.
 *
 * The parsing functions take file contents so that they are unit-tested
 * without a cgroup file system.
 */
#ifndef STUDY_MEMLIMIT_H
#define STUDY_MEMLIMIT_H

#include <stddef.h>
#include <sys/types.h>
#include "strbuf.h"

#define MEMLIMIT_WATCH_S 0.1

/* The cgroup v2 directory under which study may create stage cgroups, into
 * `base`: $STUDY_CGROUP, else the orchestrator's own cgroup. Returns 1 when
 * it is usable (memory delegated, writable), 0 when not (with why). */
int memlimit_cgroup_base(struct strbuf *base, struct strbuf *why);

/* The orchestrator's cgroup v2 directory from the contents of
 * /proc/self/cgroup ("0::/path" line) and /proc/self/mountinfo (the cgroup2
 * mount point). Returns 0 with the path in out, or -1 when there is none. */
int memlimit_parse_own_cgroup(const char *proc_cgroup, const char *mountinfo,
			      struct strbuf *out);
/* 1 when the space-separated list `controllers` holds `name`. */
int memlimit_has_controller(const char *controllers, const char *name);
/* The oom_kill count in memory.events contents; 0 when absent. */
long memlimit_oom_kills(const char *memory_events);

/* A stage's cgroup: <base>/study-<pid>-<n>, with memory.max = bytes and
 * memory.swap.max = 0 (when the kernel has swap accounting). Returns 0 with
 * the directory in dir, or -1 with err (nothing left behind). */
int memlimit_cgroup_create(const char *base, long long bytes, struct strbuf *dir,
			   struct strbuf *err);
/* After the stage: 1 when the kernel OOM-killed something in it, else 0;
 * *peak_bytes = memory.peak when the kernel has it, else -1. */
int memlimit_cgroup_over(const char *dir, long long *peak_bytes);
/* Kill what is left in it (cgroup.kill) and remove it. Returns 0 when it is
 * gone, -1 when it is still busy (try again later). */
int memlimit_cgroup_remove(const char *dir);

/* The resident memory of each process group in pgids (bytes, summed over
 * its processes), from one pass over /proc. */
void memlimit_group_rss(const pid_t *pgids, size_t n, long long *rss);

#endif
