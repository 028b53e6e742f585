/*
 * launch.h: the report protocol between proc.c (the orchestrator) and
 * bin/study-exec (launcher/study-exec.c), the small program that stands
 * between them and a stage so that the stage's resource usage is measured
 * without the orchestrator's own pages (see proc.h and docs/provenance.md).
 *
 * The launcher is run as `study-exec FD PROGRAM ARGV0 ARG...` with FD the write
 * end of a pipe, or, for a stage of several steps (docs/study-format.md,
 * "Multi-step stages"), as
 *
 *   study-exec FD --steps N C1 PROGRAM1 ARG... C2 PROGRAM2 ARG... ...
 *
 * where Ck counts step k's argv (PROGRAMk, which is also its argv[0], and its
 * arguments). The steps run one after another, each once the one before has
 * exited 0, all in the stage's process group; the first that does not
 * (exits non-zero, is killed, cannot be executed) ends the stage, and a stop
 * signal (TERM, INT, HUP) sent to the launcher itself ends it before the next
 * step starts (proc.c sends it one with each TERM to the stage). The stage's
 * usage is the sum over its steps (peak RSS: the largest step's), its times
 * from the start of step 1 to the end of the last step run.
 *
 * It writes fixed-size struct launch_msg records to FD, each in one write(2)
 * (smaller than PIPE_BUF, so never split):
 *
 *   LAUNCH_NO_LAUNCHER  value = errno: the launcher itself could not be
 *                       executed (written by proc.c's child, not the launcher)
 *   LAUNCH_NO_EXEC      value = errno: the stage could not be created or
 *                       executed; the launcher then exits 127
 *   LAUNCH_NO_CGROUP    value = errno: the child could not move itself into
 *                       the stage's cgroup (written by proc.c's child, before
 *                       the launcher is executed)
 *   LAUNCH_STARTED      value = the stage's pid; mono_ns = CLOCK_MONOTONIC just
 *                       before the stage process was created
 *   LAUNCH_DONE         value = the stage's wait status; mono_ns = just after
 *                       it was reaped; ru = wait4's rusage of the stage (its
 *                       own and its waited-for descendants' usage, nothing of
 *                       the launcher or the orchestrator); with several steps,
 *                       value is the wait status of the step that ended the
 *                       stage and step its number (1-based; the last step when
 *                       all succeeded); step_errno, when that step could not
 *                       be executed (value is then exit status 127)
 *
 * Both ends are built from this tree for the same machine, so the struct is
 * sent in native layout.
 */
#ifndef STUDY_LAUNCH_H
#define STUDY_LAUNCH_H

#include <stdint.h>
#include <sys/resource.h>

enum {
	LAUNCH_NO_LAUNCHER = 1,
	LAUNCH_NO_EXEC = 2,
	LAUNCH_STARTED = 3,
	LAUNCH_DONE = 4,
	LAUNCH_NO_CGROUP = 5,
};

struct launch_msg {
	int32_t kind;
	int32_t value;
	int64_t mono_ns;
	struct rusage ru;
	int32_t step;       /* LAUNCH_DONE of several steps: 1-based; else 0 */
	int32_t step_errno; /* LAUNCH_DONE: that step could not be executed; else 0 */
};

#endif
