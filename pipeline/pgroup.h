/*
 * pgroup: process groups of stages that outlived a killed run (docs/
 * reliability.md). A running stage's process group is noted in its work
 * directory as "<pgid> <start>\n" (exec_local.c); before the next run empties
 * work/ (store_clean_tmp), `study run` calls pgroup_kill_leftovers so that
 * nothing a killed run started keeps writing into the store.
 */
#ifndef STUDY_PGROUP_H
#define STUDY_PGROUP_H

#include <sys/types.h>

/* A running stage's process
 * group is noted in its work directory as "<pgid> <start>\n", where start is
 * the leader's start time (field 22 of /proc/PID/stat, clock ticks since
 * boot); at the next start, before the work directory is removed, the group
 * is killed if it still exists and is still the same group.
 *
 * proc_start_time: the start time of `pid`; 0, or -1 when there is no such
 * process. proc_kill_leftover_group: SIGKILL every process whose process group
 * is `pgid`, unless the leader `pgid` is alive with another start time (the
 * number was reused: a pid cannot be reused while a process group of that
 * number has members, so a group without its leader is still ours). Returns
 * the number of processes signalled. */
int proc_start_time(pid_t pid, unsigned long long *start);
int proc_kill_leftover_group(pid_t pgid, unsigned long long leader_start);

/* For each WORK_DIR/<name>/pgid note, kill the noted group as above. Returns
 * the number of processes signalled; a missing WORK_DIR is empty. */
int pgroup_kill_leftovers(const char *work_dir);

#endif
