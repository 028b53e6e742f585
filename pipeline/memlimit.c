/*
 * memlimit: cgroup v2 stage cgroups and the resident-memory watchdog that
 * enforce resources.mem on this machine (see memlimit.h).
 */
#include "memlimit.h"
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int memlimit_parse_own_cgroup(const char *proc_cgroup, const char *mountinfo,
			      struct strbuf *out)
{
	/* the unified hierarchy's line: "0::/some/path" */
	const char *rel = NULL, *p = proc_cgroup;
	size_t rel_len = 0;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len >= 3 && !strncmp(p, "0::", 3)) {
			rel = p + 3;
			rel_len = len - 3;
		}
		p = nl ? nl + 1 : NULL;
	}
	if (!rel || !rel_len || rel[0] != '/')
		return -1;
	/* mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SRC OPTS" */
	p = mountinfo;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[4096];
		if (len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = '\0';
			char *sep = strstr(line, " - ");
			char root[1024], mnt[1024], fstype[64];
			if (sep && sscanf(sep + 3, "%63s", fstype) == 1 && !strcmp(fstype, "cgroup2") &&
			    sscanf(line, "%*s %*s %*s %1023s %1023s", root, mnt) == 2 &&
			    !strcmp(root, "/")) {
				strbuf_reset(out);
				strbuf_addstr(out, mnt);
				if (!(rel_len == 1 && rel[0] == '/'))
					strbuf_add(out, rel, rel_len);
				return 0;
			}
		}
		p = nl ? nl + 1 : NULL;
	}
	return -1;
}

int memlimit_has_controller(const char *controllers, const char *name)
{
	size_t n = strlen(name);
	const char *p = controllers;
	while (p && *p) {
		while (*p == ' ' || *p == '\n' || *p == '\t')
			p++;
		size_t len = strcspn(p, " \n\t");
		if (len == n && !strncmp(p, name, n))
			return 1;
		p += len;
	}
	return 0;
}

long memlimit_oom_kills(const char *memory_events)
{
	const char *p = memory_events;
	while (p && *p) {
		long v;
		if (sscanf(p, "oom_kill %ld", &v) == 1)
			return v;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

int memlimit_cgroup_base(struct strbuf *base, struct strbuf *why)
{
	const char *env = getenv("STUDY_CGROUP");
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	int ok = 0;
	strbuf_reset(base);
	if (env && *env) {
		strbuf_addstr(base, env);
	} else if (strbuf_read_file(&a, "/proc/self/cgroup") < 0 ||
		   strbuf_read_file(&b, "/proc/self/mountinfo") < 0 ||
		   memlimit_parse_own_cgroup(a.buf, b.buf, base) < 0) {
		strbuf_addstr(why, "no cgroup v2 hierarchy holds this process");
		goto out;
	}
	strbuf_reset(&a);
	strbuf_addf(&a, "%s/cgroup.subtree_control", base->buf);
	strbuf_reset(&b);
	if (strbuf_read_file(&b, a.buf) < 0) {
		strbuf_addf(why, "cannot read '%s': %s", a.buf, strerror(errno));
	} else if (!memlimit_has_controller(b.buf, "memory")) {
		strbuf_addf(why, "the memory controller is not enabled for the children of '%s'",
			    base->buf);
	} else if (access(base->buf, W_OK) != 0) {
		strbuf_addf(why, "'%s' is not writable: %s", base->buf, strerror(errno));
	} else {
		ok = 1;
	}
out:
	strbuf_release(&a);
	strbuf_release(&b);
	return ok;
}

/* Write `text` to dir/name. 0, or -1 with errno. */
static int write_knob(const char *dir, const char *name, const char *text)
{
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "%s/%s", dir, name);
	int fd = open(path.buf, O_WRONLY | O_CLOEXEC | O_TRUNC | O_CREAT, 0644);
	strbuf_release(&path);
	if (fd < 0)
		return -1;
	size_t n = strlen(text);
	ssize_t w = write(fd, text, n);
	int saved = errno;
	close(fd);
	errno = saved;
	return w == (ssize_t)n ? 0 : -1;
}

int memlimit_cgroup_create(const char *base, long long bytes, struct strbuf *dir,
			   struct strbuf *err)
{
	static unsigned long seq;
	char num[32];
	strbuf_reset(dir);
	strbuf_addf(dir, "%s/study-%ld-%lu", base, (long)getpid(), ++seq);
	if (mkdir(dir->buf, 0755) < 0) {
		strbuf_addf(err, "cannot create cgroup '%s': %s", dir->buf, strerror(errno));
		return -1;
	}
	snprintf(num, sizeof(num), "%lld", bytes);
	if (write_knob(dir->buf, "memory.max", num) < 0) {
		strbuf_addf(err, "cannot set '%s/memory.max': %s", dir->buf, strerror(errno));
		rmdir(dir->buf);
		return -1;
	}
	/* no swap: the limit is on memory, not on what can be pushed out */
	write_knob(dir->buf, "memory.swap.max", "0");
	return 0;
}

int memlimit_cgroup_over(const char *dir, long long *peak_bytes)
{
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
	int over = 0;
	*peak_bytes = -1;
	strbuf_addf(&path, "%s/memory.events", dir);
	if (strbuf_read_file(&text, path.buf) == 0)
		over = memlimit_oom_kills(text.buf) > 0;
	strbuf_reset(&path);
	strbuf_reset(&text);
	strbuf_addf(&path, "%s/memory.peak", dir);
	if (strbuf_read_file(&text, path.buf) == 0)
		*peak_bytes = atoll(text.buf);
	strbuf_release(&path);
	strbuf_release(&text);
	return over;
}

int memlimit_cgroup_remove(const char *dir)
{
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "%s/cgroup.kill", dir);
	int fd = open(path.buf, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0) {
			/* an older kernel: the runner has killed the group already */
		}
		close(fd);
	}
	strbuf_release(&path);
	if (rmdir(dir) == 0 || errno == ENOENT)
		return 0;
	return errno == EBUSY ? -1 : 0; /* anything else will not get better */
}

void memlimit_group_rss(const pid_t *pgids, size_t n, long long *rss)
{
	static long page;
	if (!page)
		page = sysconf(_SC_PAGESIZE);
	for (size_t k = 0; k < n; k++)
		rss[k] = 0;
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *de;
	char path[300], buf[1024];
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* "pid (comm) state ppid pgrp ... rss(24th)": comm may hold anything */
		char *p = strrchr(buf, ')');
		if (!p)
			continue;
		long pgrp = 0, pages = 0;
		if (sscanf(p + 1, " %*s %*s %ld %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s"
				  " %*s %*s %*s %*s %*s %*s %ld",
			   &pgrp, &pages) != 2)
			continue;
		for (size_t k = 0; k < n; k++)
			if (pgids[k] == (pid_t)pgrp)
				rss[k] += (long long)pages * page;
	}
	closedir(d);
}
