/*
 * pgroup: finding and killing the process groups a killed run left behind
 * (see pgroup.h). Moved out of the store, which owns files, not processes.
 */
#include "pgroup.h"
#include "fsutil.h"
#include "strbuf.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- leftover stage processes ---------------------------------------------------- */

/* Parse /proc/PID/stat: the process group (field 5) and the start time (field 22).
 * The command name (field 2) may hold spaces and ')', so parse after the last ')'. */
static int proc_stat_fields(pid_t pid, pid_t *pgrp, unsigned long long *start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = fs_read_retry(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* after ") ": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	 * cmajflt utime stime cutime cstime priority nice num_threads itrealvalue starttime */
	char state;
	long ppid, grp;
	unsigned long long st;
	if (sscanf(p + 1, " %c %ld %ld %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s"
		   " %*s %*s %llu", &state, &ppid, &grp, &st) != 4)
		return -1;
	if (pgrp)
		*pgrp = (pid_t)grp;
	if (start)
		*start = st;
	return 0;
}

int proc_start_time(pid_t pid, unsigned long long *start)
{
	return proc_stat_fields(pid, NULL, start);
}

int proc_kill_leftover_group(pid_t pgid, unsigned long long leader_start)
{
	unsigned long long st;
	int killed = 0;

	if (pgid <= 1)
		return 0;
	if (proc_stat_fields(pgid, NULL, &st) == 0 && st != leader_start)
		return 0; /* the number now belongs to someone else */
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		pid_t grp;
		if (*end || pid <= 1 || pid == (long)getpid())
			continue;
		if (proc_stat_fields((pid_t)pid, &grp, NULL) == 0 && grp == pgid)
			killed++;
	}
	closedir(d);
	if (killed)
		kill(-pgid, SIGKILL);
	return killed;
}

int pgroup_kill_leftovers(const char *work_dir)
{
	struct strbuf p = STRBUF_INIT, text = STRBUF_INIT;
	int killed = 0;
	DIR *d = opendir(work_dir);
	if (!d)
		return 0;
	strbuf_addstr(&p, work_dir);
	size_t base = p.len;
	struct dirent *de;
	while ((de = readdir(d))) {
		long pgid;
		unsigned long long start;
		if (de->d_name[0] == '.')
			continue;
		strbuf_setlen(&p, base);
		strbuf_addf(&p, "/%s/pgid", de->d_name);
		strbuf_reset(&text);
		if (strbuf_read_file(&text, p.buf) != 0 ||
		    sscanf(text.buf, "%ld %llu", &pgid, &start) != 2)
			continue;
		killed += proc_kill_leftover_group((pid_t)pgid, start);
	}
	closedir(d);
	strbuf_release(&p);
	strbuf_release(&text);
	return killed;
}
