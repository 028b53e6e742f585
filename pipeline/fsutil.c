/*
 * fsutil: the store's filesystem helpers, usable by any module: mkdir -p,
 * recursive removal that copes with read-only directories, atomic whole-file
 * writes (temp file in the same directory + rename), and EINTR/short-write
 * safe read/write loops. See fsutil.h.
 */
#include "fsutil.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static long write_fail_countdown = -1;

/* ---- crash injection (fsutil.h, docs/reliability.md "Crash windows") ---- */

static int crash_state = -1;     /* -1: variables not read yet, 0: off, 1: on */
static long crash_at;            /* 0: never (trace only) */
static int crash_after;          /* kill after step crash_at instead of before */
static int crash_trace_fd = -1;
static long crash_steps;         /* steps so far (atomic) */
static _Thread_local long crash_mine; /* the step this thread is doing */

static void crash_setup(void)
{
	const char *at = getenv("STUDY_CRASH_AT"), *tr = getenv("STUDY_CRASH_TRACE");
	if (at && *at) {
		char *end;
		long n = strtol(at, &end, 10);
		if (n > 0 && (!*end || !strcmp(end, ":before") || !strcmp(end, ":after"))) {
			crash_at = n;
			crash_after = !strcmp(end, ":after");
		}
	}
	if (tr && *tr)
		crash_trace_fd = open(tr, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	__atomic_store_n(&crash_state, crash_at > 0 || crash_trace_fd >= 0, __ATOMIC_RELEASE);
}

/* Append "N KIND PATH[ SUFFIX]\n" to the trace: one write(2), no stdio. */
static void crash_trace(long n, const char *kind, const char *path, const char *suffix)
{
	char buf[4096], num[24];
	size_t len = 0, k = sizeof(num);
	if (crash_trace_fd < 0)
		return;
	do {
		num[--k] = (char)('0' + n % 10);
		n /= 10;
	} while (n && k);
	const char *parts[] = { num + k, " ", kind, " ", path ? path : "-", suffix, "\n" };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t pl = i == 0 ? sizeof(num) - k : strlen(parts[i]);
		if (pl > sizeof(buf) - 1 - len)
			pl = sizeof(buf) - 1 - len; /* a very long path is cut */
		memcpy(buf + len, parts[i], pl);
		len += pl;
	}
	if (buf[len - 1] != '\n')
		buf[len++] = '\n';
	ssize_t w = write(crash_trace_fd, buf, len);
	(void)w;
}

/* Die the way a kill -9 would: no atexit, no cleanup, no flush. */
static void crash_now(void)
{
	kill(getpid(), SIGKILL);
	for (;;)
		pause();
}

void fs_crash_step(const char *kind, const char *path)
{
	int on = __atomic_load_n(&crash_state, __ATOMIC_ACQUIRE);
	if (on < 0) {
		crash_setup();
		on = crash_state;
	}
	if (!on)
		return;
	long n = __atomic_add_fetch(&crash_steps, 1, __ATOMIC_SEQ_CST);
	crash_mine = n;
	int die = n == crash_at && !crash_after;
	crash_trace(n, kind, path, n != crash_at ? "" : crash_after ? " (crash after)" :
					       " (crash before)");
	if (die)
		crash_now();
}

void fs_crash_step_done(void)
{
	if (crash_state > 0 && crash_after && crash_mine == crash_at)
		crash_now();
}

void fs_fail_writes_after(long n) { write_fail_countdown = n; }

/* The fault hook: 1 when this write must fail with ENOSPC. */
static int fault_now(void)
{
	if (write_fail_countdown == 0) {
		errno = ENOSPC;
		return 1;
	}
	if (write_fail_countdown > 0)
		write_fail_countdown--;
	return 0;
}

int fs_symlink(const char *target, const char *path)
{
	if (fault_now())
		return -1;
	fs_crash_step("symlink", path);
	int r = symlink(target, path);
	fs_crash_step_done();
	return r;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fs_write_all(int fd, const void *data, size_t len)
{
	if (fault_now())
		return -1;
	fs_crash_step("write", NULL);
	int r = write_all(fd, data, len);
	fs_crash_step_done();
	return r;
}

ssize_t fs_read_retry(int fd, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(fd, buf, len);
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

/* fsync a directory by path; errors are ignored (best effort, opt-in). */
static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

void fs_fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		fsync_dir(".");
		return;
	}
	char *dir = xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
	fsync_dir(dir);
	free(dir);
}

int mkdir_p(const char *path, int mode, struct strbuf *err)
{
	struct stat sb;
	if (mkdir(path, (mode_t)mode) == 0)
		return 0;
	if (errno == EEXIST) {
		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			return 0;
		strbuf_addf(err, "cannot create directory '%s': %s", path, strerror(ENOTDIR));
		return -1;
	}
	if (errno != ENOENT) {
		strbuf_addf(err, "cannot create directory '%s': %s", path, strerror(errno));
		return -1;
	}
	/* Some parent is missing: create every component in turn. */
	char *tmp = xstrdup(path);
	size_t len = strlen(tmp);
	for (size_t i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		if (tmp[i - 1] == '/')
			continue;
		char saved = tmp[i];
		tmp[i] = '\0';
		if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST) {
			strbuf_addf(err, "cannot create directory '%s': %s", tmp, strerror(errno));
			free(tmp);
			return -1;
		}
		tmp[i] = saved;
	}
	free(tmp);
	if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		strbuf_addf(err, "cannot create directory '%s': %s", path, strerror(ENOTDIR));
		return -1;
	}
	return 0;
}

/* Remove `name` (relative to the directory fd `parent`); `path` is its full
 * name for messages and is restored on return. */
static int remove_at(int parent, const char *name, struct strbuf *path, struct strbuf *err)
{
	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	int first = errno;
	struct stat sb;
	if (fstatat(parent, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return 0;
		strbuf_addf(err, "cannot remove '%s': %s", path->buf, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		strbuf_addf(err, "cannot remove '%s': %s", path->buf, strerror(first));
		return -1;
	}
	/* Empty directories (most work dirs after a consuming put_tree) go at once. */
	if (unlinkat(parent, name, AT_REMOVEDIR) == 0)
		return 0;
	/* Read-only directories (materialised trees) need u+rwx to be emptied. */
	if ((sb.st_mode & S_IRWXU) != S_IRWXU &&
	    fchmodat(parent, name, (sb.st_mode & 07777) | S_IRWXU, 0) != 0) {
		strbuf_addf(err, "cannot make '%s' writable: %s", path->buf, strerror(errno));
		return -1;
	}
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		strbuf_addf(err, "cannot open directory '%s': %s", path->buf, strerror(errno));
		return -1;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		strbuf_addf(err, "cannot open directory '%s': %s", path->buf, strerror(errno));
		close(fd);
		return -1;
	}
	size_t base = path->len;
	int ret = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		strbuf_addch(path, '/');
		strbuf_addstr(path, de->d_name);
		ret = remove_at(fd, de->d_name, path, err);
		strbuf_setlen(path, base);
		if (ret)
			break;
	}
	closedir(d);
	if (ret)
		return -1;
	if (unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
		strbuf_addf(err, "cannot remove '%s': %s", path->buf, strerror(errno));
		return -1;
	}
	return 0;
}

int remove_tree(const char *path, struct strbuf *err)
{
	struct strbuf p = STRBUF_INIT;
	strbuf_addstr(&p, path);
	int ret = remove_at(AT_FDCWD, path, &p, err);
	strbuf_release(&p);
	return ret;
}

int remove_tree_contents(const char *dir, struct strbuf *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		strbuf_addf(err, "cannot open directory '%s': %s", dir, strerror(errno));
		return -1;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		strbuf_addf(err, "cannot open directory '%s': %s", dir, strerror(errno));
		close(fd);
		return -1;
	}
	struct strbuf path = STRBUF_INIT;
	int ret = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dir, de->d_name);
		if ((ret = remove_at(fd, de->d_name, &path, err)))
			break;
	}
	closedir(d);
	strbuf_release(&path);
	return ret;
}

int write_file_atomic_sync(const char *path, const void *data, size_t len, int mode,
			   int do_fsync, struct strbuf *err)
{
	return write_file_atomic_via(path, NULL, data, len, mode, do_fsync, err);
}

int write_file_atomic_via(const char *path, const char *tmpdir, const void *data, size_t len,
			  int mode, int do_fsync, struct strbuf *err)
{
	struct strbuf tmp = STRBUF_INIT;
	const char *slash = strrchr(path, '/');
	if (tmpdir)
		strbuf_addf(&tmp, "%s/", tmpdir);
	else if (slash)
		strbuf_add(&tmp, path, (size_t)(slash - path) + 1);
	strbuf_addstr(&tmp, ".tmp-XXXXXX");
	int fd = mkostemp(tmp.buf, O_CLOEXEC);
	if (fd < 0) {
		int e = errno; /* callers retry after creating the directory on ENOENT */
		strbuf_addf(err, "cannot write '%s': %s", path, strerror(e));
		strbuf_release(&tmp);
		errno = e;
		return -1;
	}
	if (fs_write_all(fd, data, len) != 0 || fchmod(fd, (mode_t)mode) != 0 ||
	    (do_fsync && fsync(fd) != 0)) {
		strbuf_addf(err, "cannot write '%s': %s", path, strerror(errno));
		close(fd);
		unlink(tmp.buf);
		strbuf_release(&tmp);
		return -1;
	}
	if (close(fd) != 0) {
		strbuf_addf(err, "cannot write '%s': %s", path, strerror(errno));
		unlink(tmp.buf);
		strbuf_release(&tmp);
		return -1;
	}
	fs_crash_step("rename", path);
	int renamed = rename(tmp.buf, path);
	fs_crash_step_done();
	if (renamed != 0) {
		int e = errno; /* ENOENT: the directory of `path` is missing */
		strbuf_addf(err, "cannot rename '%s' to '%s': %s", tmp.buf, path, strerror(e));
		unlink(tmp.buf);
		strbuf_release(&tmp);
		errno = e;
		return -1;
	}
	if (do_fsync)
		fs_fsync_parent(path);
	strbuf_release(&tmp);
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, int mode,
		      struct strbuf *err)
{
	return write_file_atomic_sync(path, data, len, mode, 0, err);
}



int fs_wait_past(const struct timespec *t)
{
	for (int i = 0; i < 100; i++) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME_COARSE, &now);
		if (now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec > t->tv_nsec))
			return 0;
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL);
	}
	return -1;
}
