/*
 * exec_fake: an executor that runs nothing and completes stages as a script
 * says, on a virtual clock, so that the runner's policy (failure propagation,
 * -j slots, resources, retries, --force, interrupts, timeouts, provenance) is
 * unit-tested deterministically and fast (ninja's FakeCommandRunner is the
 * model). See executor.h for the interface.
 *
 * The clock starts at FAKE_T0 (monotonic) / FAKE_WALL0 (wall) and moves only
 * in exec_poll: to the next stage end when that comes within the timeout,
 * else by the timeout. A stage that ends with exit status 0 gets
 * <workdir>/out/result.txt holding "<stage id>\n" (so equal stages give
 * equal outputs) unless its rule says empty_output; its logs are written
 * ("fake stdout of <id>", "fake stderr of <id>").
 */
#ifndef STUDY_EXEC_FAKE_H
#define STUDY_EXEC_FAKE_H

#include "executor.h"

#define FAKE_T0 1000.0
#define FAKE_WALL0 1700000000.0

/* What one start of a stage does. The first rule that matches the stage id
 * (NULL matches every stage) and the attempt (0: every start; N: the Nth
 * start of that stage in this executor's life) applies; with none, the stage
 * runs 1 s and exits 0. */
struct exec_fake_rule {
	const char *stage;
	int attempt;
	double secs;       /* virtual run time; 0 means 1 s */
	int exit_code;     /* how it ends at `secs` */
	int term_signal;   /* killed by this signal at `secs` (exit_code ignored) */
	int over_memory;   /* stopped at `secs` for using more than mem_bytes (KILL) */
	int empty_output;  /* exit 0 but ${out} left empty */
	int ignore_term;   /* a TERM (time limit, cancel) does not stop it: it ends
			    * at `secs`, or with KILL EXEC_KILL_GRACE_S later */
	int exits_on_term; /* a TERM makes it exit with term_exit_code (not die
			    * by the signal), at once */
	int term_exit_code;
	int raise_signal;  /* raised in this process as the stage starts (tests of
			    * the runner's interrupt handling) */
};

/* What was started, in order. */
struct exec_fake_start {
	char *stage_id;
	int attempt;           /* 1-based, per stage */
	double at, ended;      /* virtual monotonic; ended 0 while running */
	int cpus, gpus;
	long long mem_bytes;
	double time_s;
	char *cuda;            /* CUDA_VISIBLE_DEVICES in its env, NULL when absent */
	char *argv;            /* the steps' argvs joined by ' ', steps by " && " */
	int cancelled;
};

/* caps: what it advertises (copied; gpu_names borrowed); NULL: no limits.
 * rules: borrowed, must outlive the executor. */
struct executor *exec_fake_new(const struct exec_fake_rule *rules, size_t nr,
			       const struct exec_caps *caps);
const struct exec_fake_start *exec_fake_starts(struct executor *ex, size_t *nr);
/* The most stages that were running at once. */
size_t exec_fake_max_running(struct executor *ex);

#endif
