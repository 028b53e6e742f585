/*
 * store: the content-addressed artifact store (objects, tree manifests,
 * materialised trees, action cache, temporaries, work dirs, writer lock).
 * The filesystem helpers it is built on live in fsutil.c. See store.h for
 * the interface and docs/store.md for the on-disk layout and the guarantees.
 *
 * Every write goes to a temporary name first and is renamed into place, so a
 * killed run never leaves a half-written file under a final name. Objects are
 * never rewritten once present. No fsync unless store_set_fsync() asked for it.
 */
#include "store.h"
#include "fsutil.h"
#include "tree.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

enum { IO_CHUNK = 64 * 1024 };

#define add_printable tree_add_printable

/* ---- open / release / lock ---------------------------------------------------------- */

static const char *const store_subdirs[] = { "objects", "trees", "out", "stat", "cache", "tmp", "work" };

static int store_fill(struct store *st, const char *dir, struct strbuf *err)
{
	char *abs = realpath(dir, NULL);
	if (!abs) {
		strbuf_addf(err, "cannot resolve '%s': %s", dir, strerror(errno));
		return -1;
	}
	st->root = abs;
	st->lock_fd = -1;
	st->fsync = 0;
	st->on_wait = NULL;
	st->on_wait_ctx = NULL;
	return 0;
}

int store_open(struct store *st, const char *dir, struct strbuf *err)
{
	st->root = NULL;
	st->lock_fd = -1;
	st->fsync = 0;
	st->on_wait = NULL;
	st->on_wait_ctx = NULL;
	if (mkdir_p(dir, 0755, err))
		return -1;
	if (store_fill(st, dir, err))
		return -1;
	struct strbuf p = STRBUF_INIT;
	for (size_t i = 0; i < sizeof(store_subdirs) / sizeof(store_subdirs[0]); i++) {
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/%s", st->root, store_subdirs[i]);
		if (mkdir_p(p.buf, 0755, err)) {
			strbuf_release(&p);
			store_release(st);
			return -1;
		}
	}
	strbuf_release(&p);
	return 0;
}

int store_open_existing(struct store *st, const char *dir, struct strbuf *err)
{
	st->root = NULL;
	st->lock_fd = -1;
	st->fsync = 0;
	st->on_wait = NULL;
	st->on_wait_ctx = NULL;
	struct strbuf p = STRBUF_INIT;
	struct stat sb;
	strbuf_addf(&p, "%s/objects", dir);
	int ok = stat(p.buf, &sb) == 0 && S_ISDIR(sb.st_mode);
	strbuf_release(&p);
	if (!ok) {
		strbuf_addf(err, "no store at '%s'", dir);
		return -1;
	}
	return store_fill(st, dir, err);
}

void store_release(struct store *st)
{
	store_unlock(st);
	free(st->root);
	st->root = NULL;
}

void store_set_fsync(struct store *st, int on) { st->fsync = !!on; }

/* The pid written in the lock file, or 0 when it cannot be read. */
static long lock_holder(int fd)
{
	char buf[32];
	ssize_t n;
	do
		n = pread(fd, buf, sizeof(buf) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *end;
	long pid = strtol(buf, &end, 10);
	return (end != buf && pid > 0) ? pid : 0;
}

static void add_pid(struct strbuf *sb, long pid)
{
	if (pid > 0)
		strbuf_addf(sb, "pid %ld", pid);
	else
		strbuf_addstr(sb, "pid unknown");
}

int store_lock(struct store *st, int wait, struct strbuf *err)
{
	if (st->lock_fd >= 0)
		return 0;
	struct strbuf p = STRBUF_INIT;
	strbuf_addf(&p, "%s/lock", st->root);
	int fd = open(p.buf, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		strbuf_addf(err, "cannot open '%s': %s", p.buf, strerror(e));
		strbuf_release(&p);
		errno = e; /* EACCES, EROFS: the caller may read instead (rerun.c) */
		return -1;
	}
	int r;
	while ((r = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
		;
	if (r != 0 && errno == EWOULDBLOCK) {
		long pid = lock_holder(fd);
		if (!wait) {
			strbuf_addf(err, "store '%s' is locked by another run (", st->root);
			add_pid(err, pid);
			strbuf_addch(err, ')');
			close(fd);
			strbuf_release(&p);
			errno = EWOULDBLOCK;
			return -1;
		}
		if (st->on_wait) {
			struct strbuf holder = STRBUF_INIT;
			add_pid(&holder, pid);
			st->on_wait(st->on_wait_ctx, holder.buf);
			strbuf_release(&holder);
		}
		while ((r = flock(fd, LOCK_EX)) != 0 && errno == EINTR)
			;
	}
	if (r != 0) {
		strbuf_addf(err, "cannot lock '%s': %s", p.buf, strerror(errno));
		close(fd);
		strbuf_release(&p);
		return -1;
	}
	/* the holder's pid, written over the last one and then cut to its
	 * length: truncating to 0 first freed the file's block and allocated
	 * it again (1.3 ms on ext4, a tenth of a no-op run); a reader in
	 * between sees the new pid, ended by its newline */
	char pidbuf[32];
	int n = snprintf(pidbuf, sizeof(pidbuf), "%ld\n", (long)getpid());
	if (pwrite(fd, pidbuf, (size_t)n, 0) != n || ftruncate(fd, n) != 0) {
		strbuf_addf(err, "cannot write '%s': %s", p.buf, strerror(errno));
		close(fd);
		strbuf_release(&p);
		return -1;
	}
	strbuf_release(&p);
	st->lock_fd = fd;
	return 0;
}

void store_unlock(struct store *st)
{
	if (st->lock_fd < 0)
		return;
	/* Closing the only descriptor of the open file description drops the flock. */
	close(st->lock_fd);
	st->lock_fd = -1;
}

int store_clean_tmp(struct store *st, struct strbuf *err)
{
	struct strbuf p = STRBUF_INIT;
	int ret = 0;
	const char *dirs[] = { "tmp", "work" };
	for (size_t i = 0; i < 2 && !ret; i++) {
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/%s", st->root, dirs[i]);
		ret = remove_tree_contents(p.buf, err);
		if (!ret)
			ret = mkdir_p(p.buf, 0755, err);
	}
	strbuf_release(&p);
	return ret;
}

/* ---- paths ---------------------------------------------------------------------------- */

static void fanout_path(const struct store *st, const char *kind, const char *hex,
			struct strbuf *out)
{
	strbuf_reset(out);
	strbuf_addstr(out, st->root);
	strbuf_addch(out, '/');
	strbuf_addstr(out, kind);
	strbuf_addch(out, '/');
	strbuf_add(out, hex, strnlen(hex, 2));
	strbuf_addch(out, '/');
	strbuf_addstr(out, hex);
}

void store_object_path(const struct store *st, const char *hex, struct strbuf *out)
{
	fanout_path(st, "objects", hex, out);
}

void store_tree_manifest_path(const struct store *st, const char *hex, struct strbuf *out)
{
	fanout_path(st, "trees", hex, out);
}

void store_tree_dir_path(const struct store *st, const char *hex, struct strbuf *out)
{
	strbuf_reset(out);
	strbuf_addstr(out, st->root);
	strbuf_addstr(out, "/out/");
	strbuf_addstr(out, hex);
}

/* Create the fan-out directory holding `path` (its parent). */
static int make_parent(const char *path, struct strbuf *err)
{
	const char *slash = strrchr(path, '/');
	char *dir = xstrndup(path, (size_t)(slash - path));
	int ret = 0;
	fs_crash_step("mkdir", dir);
	int r = mkdir(dir, 0755);
	fs_crash_step_done();
	if (r != 0 && errno != EEXIST) {
		strbuf_addf(err, "cannot create directory '%s': %s", dir, strerror(errno));
		ret = -1;
	}
	free(dir);
	return ret;
}

/* Write a fan-out file (trees/ab/.., cache/ab/..) atomically, creating the
 * fan-out directory only when it turns out to be missing. */
static int write_fanout(struct store *st, const char *path, const void *data, size_t len,
			struct strbuf *err)
{
	size_t mark = err->len;
	struct strbuf tmpdir = STRBUF_INIT;
	int ret = -1;
	/* the temp goes to tmp/ (emptied at the next start), never beside final names */
	strbuf_addf(&tmpdir, "%s/tmp", st->root);
	if (write_file_atomic_via(path, tmpdir.buf, data, len, 0444, st->fsync, err) == 0)
		ret = 0;
	else if (errno == ENOENT) {
		strbuf_setlen(err, mark);
		if (!make_parent(path, err))
			ret = write_file_atomic_via(path, tmpdir.buf, data, len, 0444, st->fsync,
						    err);
	}
	strbuf_release(&tmpdir);
	return ret;
}

/* ---- objects ---------------------------------------------------------------------------- */

enum { PLACE_OK = 0, PLACE_ERR = -1, PLACE_EXDEV = -2 };

/*
 * Move the file at `src` (relative to dirfd `srcdir`; `srcname` is its full
 * name for messages) to objects/ab/<hex> unless an object by that name is
 * already there, in which case `src` is removed. Returns PLACE_EXDEV (no
 * message) when src is on another filesystem.
 */
static int place_object(struct store *st, int srcdir, const char *src, const char *srcname,
			const char *hex, struct strbuf *err)
{
	struct strbuf obj = STRBUF_INIT;
	store_object_path(st, hex, &obj);
	int tried_mkdir = 0, noreplace = 1, ret = PLACE_OK;
	for (;;) {
		int r;
		fs_crash_step("rename", obj.buf);
		if (noreplace) {
			r = renameat2(srcdir, src, AT_FDCWD, obj.buf, RENAME_NOREPLACE);
			if (r != 0 && (errno == EINVAL || errno == ENOSYS)) {
				noreplace = 0; /* filesystem without RENAME_NOREPLACE */
				continue;
			}
		} else {
			struct stat sb;
			if (stat(obj.buf, &sb) == 0) {
				errno = EEXIST;
				r = -1;
			} else {
				r = renameat(srcdir, src, AT_FDCWD, obj.buf);
			}
		}
		fs_crash_step_done();
		if (r == 0) {
			if (st->fsync)
				fs_fsync_parent(obj.buf);
			break;
		}
		if (errno == EEXIST) {
			fs_crash_step("unlink", srcname);
			unlinkat(srcdir, src, 0);
			fs_crash_step_done();
			break;
		}
		if (errno == ENOENT && !tried_mkdir) {
			tried_mkdir = 1;
			if (make_parent(obj.buf, err)) {
				ret = PLACE_ERR;
				break;
			}
			continue;
		}
		if (errno == EXDEV) {
			ret = PLACE_EXDEV;
			break;
		}
		strbuf_addf(err, "cannot move '%s' to '%s': %s", srcname, obj.buf, strerror(errno));
		ret = PLACE_ERR;
		break;
	}
	strbuf_release(&obj);
	return ret;
}

/* A fresh temporary file under tmp/; fills `tmp` with its path. */
static int make_tmpfile(struct store *st, const char *prefix, struct strbuf *tmp,
			struct strbuf *err)
{
	strbuf_reset(tmp);
	strbuf_addf(tmp, "%s/tmp/%s-XXXXXX", st->root, prefix);
	int fd = mkostemp(tmp->buf, O_CLOEXEC);
	if (fd < 0)
		strbuf_addf(err, "cannot create a temporary file in '%s/tmp': %s", st->root,
			    strerror(errno));
	return fd;
}

/*
 * Read `in` to the end, hashing it, and (when out >= 0) copying it to `out`.
 * `inname`/`outname` are for messages.
 */
static int hash_copy_fd(int in, const char *inname, int out, const char *outname,
			char hex[HASH_HEX_SIZE], uint64_t *size, struct strbuf *err)
{
	char buf[IO_CHUNK];
	struct hash_ctx h;
	uint64_t total = 0;
	hash_init(&h);
	for (;;) {
		ssize_t n = fs_read_retry(in, buf, sizeof(buf));
		if (n < 0) {
			strbuf_addf(err, "cannot read '%s': %s", inname, strerror(errno));
			hash_final_hex(&h, hex);
			return -1;
		}
		if (n == 0)
			break;
		hash_update(&h, buf, (size_t)n);
		if (out >= 0 && fs_write_all(out, buf, (size_t)n) != 0) {
			strbuf_addf(err, "cannot write '%s': %s", outname, strerror(errno));
			hash_final_hex(&h, hex);
			return -1;
		}
		total += (uint64_t)n;
	}
	hash_final_hex(&h, hex);
	if (size)
		*size = total;
	return 0;
}

/* Copy the open file `in` into the store (single pass: hash while copying). */
static int copy_in(struct store *st, int in, const char *inname, char hex[HASH_HEX_SIZE],
		   uint64_t *size, struct strbuf *err)
{
	struct strbuf tmp = STRBUF_INIT;
	int out = make_tmpfile(st, "obj", &tmp, err);
	if (out < 0) {
		strbuf_release(&tmp);
		return -1;
	}
	if (hash_copy_fd(in, inname, out, tmp.buf, hex, size, err) != 0)
		goto fail;
	if (fchmod(out, 0444) != 0 || (st->fsync && fsync(out) != 0)) {
		strbuf_addf(err, "cannot write '%s': %s", tmp.buf, strerror(errno));
		goto fail;
	}
	if (close(out) != 0) {
		out = -1;
		strbuf_addf(err, "cannot write '%s': %s", tmp.buf, strerror(errno));
		goto fail;
	}
	out = -1;
	if (place_object(st, AT_FDCWD, tmp.buf, tmp.buf, hex, err) != PLACE_OK)
		goto fail; /* tmp/ and objects/ share a filesystem: no EXDEV here */
	strbuf_release(&tmp);
	return 0;
fail:
	if (out >= 0)
		close(out);
	unlink(tmp.buf);
	strbuf_release(&tmp);
	return -1;
}

int store_put_bytes(struct store *st, const void *data, size_t len, char hex[HASH_HEX_SIZE],
		    struct strbuf *err)
{
	hash_buf_hex(data, len, hex);
	struct strbuf obj = STRBUF_INIT;
	struct stat sb;
	store_object_path(st, hex, &obj);
	int present = stat(obj.buf, &sb) == 0;
	strbuf_release(&obj);
	if (present)
		return 0;
	struct strbuf tmp = STRBUF_INIT;
	int fd = make_tmpfile(st, "obj", &tmp, err);
	if (fd < 0) {
		strbuf_release(&tmp);
		return -1;
	}
	if (fs_write_all(fd, data, len) != 0 || fchmod(fd, 0444) != 0 ||
	    (st->fsync && fsync(fd) != 0)) {
		strbuf_addf(err, "cannot write '%s': %s", tmp.buf, strerror(errno));
		close(fd);
		goto fail;
	}
	if (close(fd) != 0) {
		strbuf_addf(err, "cannot write '%s': %s", tmp.buf, strerror(errno));
		goto fail;
	}
	if (place_object(st, AT_FDCWD, tmp.buf, tmp.buf, hex, err) != PLACE_OK)
		goto fail;
	strbuf_release(&tmp);
	return 0;
fail:
	unlink(tmp.buf);
	strbuf_release(&tmp);
	return -1;
}

/*
 * Ingest the regular file open as `fd` (named `name` in dirfd `dir`, `path`
 * for messages; `sb` is its fstat). With consume, rename it into the store
 * when possible (same filesystem, not hard-linked elsewhere), else copy it
 * and remove it. Closes fd.
 */
static int ingest_fd(struct store *st, int fd, const struct stat *sb, int dir, const char *name,
		     const char *path, int consume, char hex[HASH_HEX_SIZE], uint64_t *size,
		     struct strbuf *err)
{
	int ret;
	if (consume && sb->st_nlink == 1) {
		if (hash_copy_fd(fd, path, -1, NULL, hex, size, err) != 0) {
			close(fd);
			return -1;
		}
		if (fchmod(fd, 0444) != 0 || (st->fsync && fsync(fd) != 0)) {
			strbuf_addf(err, "cannot write '%s': %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		ret = place_object(st, dir, name, path, hex, err);
		if (ret != PLACE_EXDEV) {
			close(fd);
			return ret == PLACE_OK ? 0 : -1;
		}
		if (lseek(fd, 0, SEEK_SET) != 0) {
			strbuf_addf(err, "cannot read '%s': %s", path, strerror(errno));
			close(fd);
			return -1;
		}
	}
	ret = copy_in(st, fd, path, hex, size, err);
	close(fd);
	if (ret == 0 && consume) {
		fs_crash_step("unlink", path);
		int r = unlinkat(dir, name, 0);
		fs_crash_step_done();
		if (r != 0 && errno != ENOENT) {
			strbuf_addf(err, "cannot remove '%s': %s", path, strerror(errno));
			return -1;
		}
	}
	return ret;
}

int store_put_file(struct store *st, const char *path, int consume, char hex[HASH_HEX_SIZE],
		   uint64_t *size, struct strbuf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		strbuf_addf(err, "cannot read '%s': %s", path, strerror(errno));
		return -1;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		strbuf_addf(err, "cannot read '%s': %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		strbuf_addf(err, "cannot store '%s': not a regular file", path);
		close(fd);
		return -1;
	}
	return ingest_fd(st, fd, &sb, AT_FDCWD, path, path, consume, hex, size, err);
}

/* ---- importing files from outside the store (extinput.c) ------------------------------ */

/* Large reads for big inputs (a checkpoint): fewer system calls, and OpenSSL
 * hashes a long buffer at full speed. */
enum { IMPORT_CHUNK = 1 << 20 };

/* Hash `in` from offset 0 to its end, copying it to `out` when out >= 0. */
static int hash_copy_from_start(int in, const char *inname, int out, const char *outname,
				char hex[HASH_HEX_SIZE], uint64_t *size, struct strbuf *err)
{
	unsigned char *buf = xmalloc(IMPORT_CHUNK);
	struct hash_ctx h;
	uint64_t total = 0;
	int ret = 0;
	hash_init(&h);
	for (;;) {
		ssize_t n = pread(in, buf, IMPORT_CHUNK, (off_t)total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			strbuf_addf(err, "cannot read '%s': %s", inname, strerror(errno));
			ret = -1;
			break;
		}
		if (n == 0)
			break;
		hash_update(&h, buf, (size_t)n);
		if (out >= 0 && fs_write_all(out, buf, (size_t)n) != 0) {
			strbuf_addf(err, "cannot write '%s': %s", outname, strerror(errno));
			ret = -1;
			break;
		}
		total += (uint64_t)n;
	}
	hash_final_hex(&h, hex);
	free(buf);
	if (size)
		*size = total;
	return ret;
}

int store_import_fd(struct store *st, int fd, const char *name, char hex[HASH_HEX_SIZE],
		    uint64_t *size, int *created, struct strbuf *err)
{
	struct strbuf tmp = STRBUF_INIT, obj = STRBUF_INIT;
	struct stat sb;
	int ret = -1;
	if (created)
		*created = 0;
	int out = make_tmpfile(st, "import", &tmp, err);
	if (out < 0)
		goto out;
	if (ioctl(out, FICLONE, fd) == 0) {
		/* the clone is a snapshot: its bytes are what the store keeps */
		if (hash_copy_from_start(out, tmp.buf, -1, NULL, hex, size, err) != 0)
			goto out;
	} else if (hash_copy_from_start(fd, name, out, tmp.buf, hex, size, err) != 0) {
		goto out;
	}
	if (fchmod(out, 0444) != 0 || (st->fsync && fsync(out) != 0)) {
		strbuf_addf(err, "cannot write '%s': %s", tmp.buf, strerror(errno));
		goto out;
	}
	int rc = close(out);
	out = -1;
	if (rc != 0) {
		strbuf_addf(err, "cannot write '%s': %s", tmp.buf, strerror(errno));
		goto out;
	}
	store_object_path(st, hex, &obj);
	int existed = stat(obj.buf, &sb) == 0;
	if (existed) {
		unlink(tmp.buf);
	} else if (place_object(st, AT_FDCWD, tmp.buf, tmp.buf, hex, err) != PLACE_OK) {
		goto out;
	} else if (created) {
		*created = 1;
	}
	strbuf_reset(&tmp);
	ret = 0;
out:
	if (out >= 0)
		close(out);
	if (tmp.len)
		unlink(tmp.buf);
	strbuf_release(&tmp);
	strbuf_release(&obj);
	return ret;
}

int store_object_check(struct store *st, const char *hex, int drop, struct strbuf *err)
{
	struct strbuf obj = STRBUF_INIT, e = STRBUF_INIT;
	char check[HASH_HEX_SIZE];
	struct stat sb;
	int ret = 0;
	store_object_path(st, hex, &obj);
	if (lstat(obj.buf, &sb) != 0) {
		if (errno != ENOENT) {
			strbuf_addf(err, "cannot read '%s': %s", obj.buf, strerror(errno));
			ret = -1;
		}
		goto out;
	}
	if (S_ISREG(sb.st_mode)) {
		int fd = open(obj.buf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || hash_copy_from_start(fd, obj.buf, -1, NULL, check, NULL, &e) != 0) {
			if (fd >= 0)
				close(fd);
			strbuf_addf(err, "cannot read '%s': %s", obj.buf,
				    e.len ? e.buf : strerror(errno));
			ret = -1;
			goto out;
		}
		close(fd);
		if (!strcmp(check, hex)) {
			if ((sb.st_mode & 07777) != 0444)
				chmod(obj.buf, 0444);
			ret = 1;
			goto out;
		}
	}
	if (drop)
		unlink(obj.buf);
out:
	strbuf_release(&obj);
	strbuf_release(&e);
	return ret;
}

/* ---- trees ------------------------------------------------------------------------------- */

struct walk_ctx {
	struct store *st;
	int consume;
};

/* tree_walk's file callback: ingest the file as an object. */
static int ingest_entry(void *ctx, int fd, const struct stat *sb, int dirfd, const char *name,
			const char *display, struct tree_entry *e, struct strbuf *err)
{
	const struct walk_ctx *w = ctx;
	return ingest_fd(w->st, fd, sb, dirfd, name, display, w->consume, e->hex, &e->size, err);
}

/* Link (or, past the filesystem's link limit, copy) object `hex` to `dst`. */
static int link_object(struct store *st, const struct tree_entry *e, const char *tree_hex,
		       const char *dst, struct strbuf *obj, struct strbuf *err)
{
	store_object_path(st, e->hex, obj);
	fs_crash_step("link", dst);
	int r = link(obj->buf, dst);
	fs_crash_step_done();
	if (r == 0)
		return 0;
	if (errno == ENOENT) {
		strbuf_addf(err, "object '%s' (for '%s' of tree '%s') is missing from the store",
			    e->hex, e->path, tree_hex);
		return -1;
	}
	if (errno != EMLINK) {
		strbuf_addf(err, "cannot link '%s' to '%s': %s", obj->buf, dst, strerror(errno));
		return -1;
	}
	int in = open(obj->buf, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		strbuf_addf(err, "cannot read '%s': %s", obj->buf, strerror(errno));
		return -1;
	}
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (out < 0) {
		strbuf_addf(err, "cannot write '%s': %s", dst, strerror(errno));
		close(in);
		return -1;
	}
	char hex[HASH_HEX_SIZE];
	int ret = hash_copy_fd(in, obj->buf, out, dst, hex, NULL, err);
	close(in);
	if (close(out) != 0 && !ret) {
		strbuf_addf(err, "cannot write '%s': %s", dst, strerror(errno));
		ret = -1;
	}
	return ret;
}

/* Build out/<hex>/ from the (sorted) entries: temp dir of hard links, then rename. */
static int materialise(struct store *st, const char *hex, const struct tree *tl,
		       struct strbuf *err)
{
	struct strbuf tmp = STRBUF_INIT, dst = STRBUF_INIT, obj = STRBUF_INIT;
	struct strbuf lastdir = STRBUF_INIT;
	char **dirs = NULL;
	size_t ndirs = 0, adirs = 0;
	int ret = -1;

	strbuf_addf(&tmp, "%s/tmp/tree-XXXXXX", st->root);
	if (!mkdtemp(tmp.buf)) {
		strbuf_addf(err, "cannot create a temporary directory in '%s/tmp': %s", st->root,
			    strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < tl->nr; i++) {
		const struct tree_entry *e = &tl->v[i];
		const char *slash = strrchr(e->path, '/');
		size_t plen = e->kind == 'd' ? strlen(e->path) :
			      slash ? (size_t)(slash - e->path) : 0;
		/* Create the parent directories (every prefix of path[0..plen)). */
		if (plen && (plen != lastdir.len || memcmp(lastdir.buf, e->path, plen))) {
			for (size_t j = 1; j <= plen; j++) {
				if (j < plen && e->path[j] != '/')
					continue;
				strbuf_reset(&dst);
				strbuf_addf(&dst, "%s/%.*s", tmp.buf, (int)j, e->path);
				if (mkdir(dst.buf, 0755) == 0) {
					XGROW(dirs, adirs, ndirs + 1);
					dirs[ndirs++] = xstrdup(dst.buf);
				} else if (errno != EEXIST) {
					strbuf_addf(err, "cannot create directory '%s': %s",
						    dst.buf, strerror(errno));
					goto out;
				}
			}
			strbuf_reset(&lastdir);
			strbuf_add(&lastdir, e->path, plen);
		}
		if (e->kind == 'd')
			continue;
		strbuf_reset(&dst);
		strbuf_addf(&dst, "%s/%s", tmp.buf, e->path);
		if (link_object(st, e, hex, dst.buf, &obj, err))
			goto out;
	}
	for (size_t i = 0; i < ndirs; i++) {
		if (chmod(dirs[i], 0555) != 0) {
			strbuf_addf(err, "cannot change mode of '%s': %s", dirs[i],
				    strerror(errno));
			goto out;
		}
	}
	store_tree_dir_path(st, hex, &dst);
	/* The top directory stays writable until renamed: moving a directory to a
	 * new parent needs write access to it (its ".." changes). */
	fs_crash_step("rename", dst.buf);
	int r = rename(tmp.buf, dst.buf);
	fs_crash_step_done();
	if (r != 0) {
		if (errno == EEXIST || errno == ENOTEMPTY) {
			ret = 0; /* materialised meanwhile: identical content */
			goto out;
		}
		strbuf_addf(err, "cannot rename '%s' to '%s': %s", tmp.buf, dst.buf,
			    strerror(errno));
		goto out;
	}
	strbuf_reset(&tmp); /* nothing left to clean up */
	if (chmod(dst.buf, 0555) != 0) {
		strbuf_addf(err, "cannot change mode of '%s': %s", dst.buf, strerror(errno));
		goto out;
	}
	if (st->fsync)
		fs_fsync_parent(dst.buf);
	ret = 0;
out:
	if (tmp.len) {
		struct strbuf ignored = STRBUF_INIT;
		(void)remove_tree(tmp.buf, &ignored);
		strbuf_release(&ignored);
	}
	for (size_t i = 0; i < ndirs; i++)
		free(dirs[i]);
	free(dirs);
	strbuf_release(&tmp);
	strbuf_release(&dst);
	strbuf_release(&obj);
	strbuf_release(&lastdir);
	return ret;
}

int store_put_manifest(struct store *st, const struct tree *t, char hex[HASH_HEX_SIZE],
		       struct strbuf *err)
{
	struct strbuf m = STRBUF_INIT, path = STRBUF_INIT;
	int ret = -1;
	tree_format(t, &m);
	hash_buf_hex(m.buf, m.len, hex);
	struct stat sb;
	store_tree_manifest_path(st, hex, &path);
	if (stat(path.buf, &sb) != 0) {
		if (write_fanout(st, path.buf, m.buf, m.len, err))
			goto out;
	}
	store_tree_dir_path(st, hex, &path);
	if (stat(path.buf, &sb) != 0) {
		if (materialise(st, hex, t, err))
			goto out;
	} else {
		/* the same tree again: its out/<hex>/ may be a damaged copy (an object
		 * it links was edited and dropped); its objects are intact now */
		struct strbuf note = STRBUF_INIT;
		int rc = store_tree_check(st, hex, &note, err);
		strbuf_release(&note);
		if (rc < 0)
			goto out;
	}
	ret = 0;
out:
	strbuf_release(&m);
	strbuf_release(&path);
	return ret;
}

int store_put_tree(struct store *st, const char *dir, int consume, char hex[HASH_HEX_SIZE],
		   uint64_t *nfiles, uint64_t *bytes, struct strbuf *err)
{
	struct tree tl = TREE_INIT;
	struct walk_ctx w = { st, consume };
	int ret = -1;
	if (tree_walk(dir, "output ", ingest_entry, &w, &tl, err))
		goto out;
	if (!tl.nr) {
		strbuf_addf(err, "output directory '%s' is empty", dir);
		goto out;
	}
	uint64_t nf = 0, nb = 0;
	for (size_t i = 0; i < tl.nr; i++) {
		if (tl.v[i].kind != 'd') {
			nf++;
			nb += tl.v[i].size;
		}
	}
	if (nfiles)
		*nfiles = nf;
	if (bytes)
		*bytes = nb;
	ret = store_put_manifest(st, &tl, hex, err);
out:
	tree_release(&tl);
	return ret;
}

int store_has_tree(const struct store *st, const char *hex)
{
	struct strbuf p = STRBUF_INIT;
	struct stat sb;
	store_tree_dir_path(st, hex, &p);
	int ok = stat(p.buf, &sb) == 0 && S_ISDIR(sb.st_mode);
	strbuf_release(&p);
	return ok;
}

int store_tree_path(struct store *st, const char *hex, struct strbuf *path, struct strbuf *err)
{
	struct stat sb;
	if (!hash_hex_valid(hex)) {
		strbuf_addstr(err, "invalid tree digest '");
		add_printable(err, hex);
		strbuf_addch(err, '\'');
		return -1;
	}
	store_tree_dir_path(st, hex, path);
	if (stat(path->buf, &sb) == 0 && S_ISDIR(sb.st_mode))
		return 0;

	struct strbuf mpath = STRBUF_INIT;
	struct tree tl = TREE_INIT;
	int ret = -1;
	size_t mark = err->len;
	store_tree_manifest_path(st, hex, &mpath);
	if (tree_read(mpath.buf, hex, &tl, err)) {
		if (errno == ENOENT) {
			strbuf_setlen(err, mark);
			strbuf_addf(err, "tree '%s' is not in the store", hex);
		}
		goto out;
	}
	ret = materialise(st, hex, &tl, err);
out:
	tree_release(&tl);
	strbuf_release(&mpath);
	return ret;
}

/* ---- is a materialised tree still its manifest? (docs/store.md, "Integrity") ---- */

static void tree_stat_path(const struct store *st, const char *hex, struct strbuf *out)
{
	strbuf_reset(out);
	strbuf_addf(out, "%s/stat/%s", st->root, hex);
}

/* Append v in base 8 or 10, as printf's %o / %llu would. */
static char *put_uint(char *p, unsigned long long v, unsigned base)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % base);
		v /= base;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* Append the 9-digit, zero-padded nanoseconds of a timestamp, as %09ld. */
static char *put_nsec(char *p, long ns)
{
	for (int k = 8; k >= 0; k--) {
		p[k] = (char)('0' + ns % 10);
		ns /= 10;
	}
	return p + 9;
}

/* The fields of a stat record's line, "INO MODE SIZE MTIME CTIME " (times
 * as SEC.NSEC), into buf (128 bytes); returns their length. Formatted by
 * hand: a no-op rerun compares one line per file of every cache hit, and
 * snprintf was a third of that. */
static size_t stat_fields(const struct stat *sb, char *buf)
{
	char *p = buf;
	p = put_uint(p, (unsigned long long)sb->st_ino, 10);
	*p++ = ' ';
	p = put_uint(p, (unsigned)sb->st_mode, 8);
	*p++ = ' ';
	if (sb->st_size < 0)
		*p++ = '-';
	p = put_uint(p, (unsigned long long)(sb->st_size < 0 ? -sb->st_size : sb->st_size), 10);
	const struct timespec *ts[2] = { &sb->st_mtim, &sb->st_ctim };
	for (int k = 0; k < 2; k++) {
		*p++ = ' ';
		if (ts[k]->tv_sec < 0)
			*p++ = '-';
		p = put_uint(p, (unsigned long long)(ts[k]->tv_sec < 0 ? -ts[k]->tv_sec : ts[k]->tv_sec),
			     10);
		*p++ = '.';
		p = put_nsec(p, ts[k]->tv_nsec);
	}
	*p++ = ' ';
	return (size_t)(p - buf);
}

/* One line of a stat record: what a change of the file would move. */
static void stat_line(const struct stat *sb, const char *rel, struct strbuf *out)
{
	char buf[128];
	strbuf_add(out, buf, stat_fields(sb, buf));
	strbuf_addstr(out, rel);
	strbuf_addch(out, '\n');
}

/* 1 when every line of the stat record of `hex` still describes out/<hex>/. */
static int tree_stat_fresh(const struct store *st, const char *hex, const char *dir)
{
	struct strbuf rec = STRBUF_INIT, path = STRBUF_INIT;
	int ok = 0;
	tree_stat_path(st, hex, &path);
	if (strbuf_read_file(&rec, path.buf) != 0 || !rec.len)
		goto out;
	/* entries are looked up from the tree's directory, not walked from / */
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		goto out;
	const char *line = rec.buf, *end = rec.buf + rec.len;
	ok = 1;
	while (ok && line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *rel = line;
		for (int spaces = 0; nl && rel < nl && spaces < 5; rel++)
			spaces += *rel == ' ';
		struct stat sb;
		char now[128];
		strbuf_reset(&path);
		strbuf_add(&path, rel, nl ? (size_t)(nl - rel) : 0);
		if (!nl || fstatat(dfd, path.len ? path.buf : ".", &sb, AT_SYMLINK_NOFOLLOW) != 0) {
			ok = 0;
			break;
		}
		/* compare the fields; the path came from rec */
		size_t n = stat_fields(&sb, now);
		ok = n == (size_t)(rel - line) && !memcmp(now, line, n);
		line = nl + 1;
	}
	close(dfd);
out:
	strbuf_release(&rec);
	strbuf_release(&path);
	return ok;
}

/* Record the stat of out/<hex>/ (just found equal to its manifest t): the top
 * directory, every directory and every entry. Not written when an entry
 * changed within the current clock tick ("racy": a change later in the same
 * tick would leave the same times), so it is rechecked next time. Files that
 * lost mode 0444, and a top directory that is not 0555, get it back first.
 * Best effort: no record only costs a rehash next time. */
static void tree_stat_write(struct store *st, const char *hex, const char *dir,
			    const struct tree *t)
{
	struct strbuf rec = STRBUF_INIT, path = STRBUF_INIT, ignored = STRBUF_INIT;
	struct timespec now;
	struct stat sb;
	int racy = 0;
	clock_gettime(CLOCK_REALTIME_COARSE, &now);
	for (size_t i = 0; i <= t->nr && !racy; i++) {
		const char *p = i ? t->v[i - 1].path : ".";
		const char *prev = i > 1 ? t->v[i - 2].path : "";
		/* parent directories first, once each (a directory's entries are
		 * contiguous in byte order) */
		for (size_t j = 0; i && p[j]; j++) {
			if (p[j] != '/' || !strncmp(prev, p, j + 1))
				continue;
			strbuf_reset(&path);
			strbuf_addf(&path, "%s/%.*s", dir, (int)j, p);
			if (lstat(path.buf, &sb) != 0)
				goto out;
			struct strbuf rel = STRBUF_INIT;
			strbuf_add(&rel, p, j);
			stat_line(&sb, rel.buf, &rec);
			strbuf_release(&rel);
			racy |= sb.st_ctim.tv_sec > now.tv_sec ||
				(sb.st_ctim.tv_sec == now.tv_sec && sb.st_ctim.tv_nsec >= now.tv_nsec);
		}
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dir, p);
		if (lstat(path.buf, &sb) != 0)
			goto out;
		if (i && t->v[i - 1].kind != 'd' && (sb.st_mode & 07777) != 0444) {
			if (chmod(path.buf, 0444) != 0 || lstat(path.buf, &sb) != 0)
				goto out;
		}
		/* the top directory keeps mkdtemp's 0700 when a run is killed between
		 * materialise()'s rename and its chmod (t0705): give it 0555 */
		if (!i && (sb.st_mode & 07777) != 0555) {
			if (chmod(path.buf, 0555) != 0 || lstat(path.buf, &sb) != 0)
				goto out;
		}
		stat_line(&sb, p, &rec);
		racy |= sb.st_ctim.tv_sec > now.tv_sec ||
			(sb.st_ctim.tv_sec == now.tv_sec && sb.st_ctim.tv_nsec >= now.tv_nsec);
	}
	tree_stat_path(st, hex, &path);
	if (!racy && write_fanout(st, path.buf, rec.buf, rec.len, &ignored) != 0)
		unlink(path.buf);
out:
	strbuf_release(&rec);
	strbuf_release(&path);
	strbuf_release(&ignored);
}

void store_tree_record(struct store *st, const char *hex)
{
	struct strbuf mpath = STRBUF_INIT, dir = STRBUF_INIT, path = STRBUF_INIT, ignored = STRBUF_INIT;
	struct tree t = TREE_INIT;
	struct timespec latest = { 0, 0 };
	struct stat sb;
	store_tree_manifest_path(st, hex, &mpath);
	store_tree_dir_path(st, hex, &dir);
	if (tree_read(mpath.buf, hex, &t, &ignored) != 0)
		goto out;
	for (size_t i = 0; i <= t.nr; i++) {
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dir.buf, i ? t.v[i - 1].path : ".");
		if (lstat(path.buf, &sb) != 0)
			goto out;
		if (sb.st_ctim.tv_sec > latest.tv_sec ||
		    (sb.st_ctim.tv_sec == latest.tv_sec && sb.st_ctim.tv_nsec > latest.tv_nsec))
			latest = sb.st_ctim;
	}
	if (fs_wait_past(&latest) == 0)
		tree_stat_write(st, hex, dir.buf, &t);
out:
	tree_release(&t);
	strbuf_release(&mpath);
	strbuf_release(&dir);
	strbuf_release(&path);
	strbuf_release(&ignored);
}

/* Rehash every object t names: drop (unlink) those whose content is not
 * their name, give the others mode 0444 back. Returns how many were dropped;
 * the first dropped one's path in t goes to `first`. */
static size_t drop_bad_objects(struct store *st, const struct tree *t, struct strbuf *first)
{
	struct strbuf obj = STRBUF_INIT, err = STRBUF_INIT;
	size_t dropped = 0;
	for (size_t i = 0; i < t->nr; i++) {
		const struct tree_entry *e = &t->v[i];
		char check[HASH_HEX_SIZE];
		struct stat sb;
		if (e->kind == 'd')
			continue;
		store_object_path(st, e->hex, &obj);
		strbuf_reset(&err);
		if (lstat(obj.buf, &sb) != 0)
			continue; /* already gone (another entry with the same content) */
		if (!S_ISREG(sb.st_mode) || hash_file_hex(obj.buf, check, NULL, &err) != 0 ||
		    strcmp(check, e->hex)) {
			if (unlink(obj.buf) == 0) {
				if (!dropped && first)
					strbuf_addstr(first, e->path);
				dropped++;
			}
		} else if ((sb.st_mode & 07777) != 0444) {
			chmod(obj.buf, 0444);
		}
	}
	strbuf_release(&obj);
	strbuf_release(&err);
	return dropped;
}

int store_tree_repair(struct store *st, const char *hex, size_t *dropped, struct strbuf *err)
{
	struct strbuf mpath = STRBUF_INIT, dir = STRBUF_INIT, ignored = STRBUF_INIT;
	struct tree t = TREE_INIT;
	int ret = -1;
	*dropped = 0;
	if (!hash_hex_valid(hex)) {
		strbuf_addstr(err, "invalid tree digest '");
		add_printable(err, hex);
		strbuf_addch(err, '\'');
		return -1;
	}
	store_tree_manifest_path(st, hex, &mpath);
	if (tree_read(mpath.buf, hex, &t, err) != 0)
		goto out;
	*dropped = drop_bad_objects(st, &t, NULL);
	store_tree_dir_path(st, hex, &dir);
	if (remove_tree(dir.buf, err) != 0)
		goto out;
	tree_stat_path(st, hex, &mpath);
	unlink(mpath.buf);
	ret = *dropped ? 0 : materialise(st, hex, &t, err);
out:
	tree_release(&t);
	strbuf_release(&mpath);
	strbuf_release(&dir);
	strbuf_release(&ignored);
	return ret;
}

static int tree_check(struct store *st, const char *hex, int repair, struct strbuf *note,
		      struct strbuf *err);

int store_tree_check(struct store *st, const char *hex, struct strbuf *note, struct strbuf *err)
{
	return tree_check(st, hex, 1, note, err);
}

int store_tree_intact(struct store *st, const char *hex, struct strbuf *err)
{
	return tree_check(st, hex, 0, NULL, err) == STORE_TREE_OK ? 0 : -1;
}

static int tree_check(struct store *st, const char *hex, int repair, struct strbuf *note,
		      struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT, mpath = STRBUF_INIT, werr = STRBUF_INIT;
	struct strbuf what = STRBUF_INIT, file = STRBUF_INIT;
	struct tree t = TREE_INIT, w = TREE_INIT;
	int ret = -1;
	if (!repair) {
		/* a reader never rebuilds out/<hex>/ (store.h) */
		if (!hash_hex_valid(hex) || !store_has_tree(st, hex)) {
			strbuf_addstr(err, "tree '");
			add_printable(err, hex);
			strbuf_addstr(err, "' is not materialised");
			goto out;
		}
		store_tree_dir_path(st, hex, &dir);
	} else if (store_tree_path(st, hex, &dir, err) != 0) {
		goto out;
	}
	if (tree_stat_fresh(st, hex, dir.buf)) {
		ret = STORE_TREE_OK;
		goto out;
	}
	store_tree_manifest_path(st, hex, &mpath);
	if (tree_read(mpath.buf, hex, &t, err) != 0)
		goto out;
	if (tree_walk_hash(dir.buf, "", &w, &werr) != 0) {
		strbuf_addstr(&what, werr.buf);
		/* name the file: the first manifest entry that is not a plain file */
		for (size_t i = 0; i < t.nr && !file.len; i++) {
			struct stat sb;
			strbuf_reset(&mpath);
			strbuf_addf(&mpath, "%s/%s", dir.buf, t.v[i].path);
			if (lstat(mpath.buf, &sb) != 0 ||
			    (t.v[i].kind == 'd' ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode)))
				strbuf_addstr(&file, t.v[i].path);
		}
	} else if (!tree_first_difference(&t, &w, "manifest", "materialised tree", 1, &what,
					  &file)) {
		if (repair)
			tree_stat_write(st, hex, dir.buf, &t);
		ret = STORE_TREE_OK;
		goto out;
	}
	if (!repair) {
		strbuf_addf(err, "file '%s/", dir.buf);
		add_printable(err, file.len ? file.buf : "?");
		strbuf_addf(err, "' does not match its recorded digest (%s)", what.buf);
		goto out;
	}
	/* out/<hex>/ is not its manifest: rebuild it from the objects that are
	 * still intact, or drop the damaged ones (the tree is then gone) */
	struct strbuf bad = STRBUF_INIT;
	size_t dropped = drop_bad_objects(st, &t, &bad);
	if (!file.len)
		strbuf_addstr(&file, bad.len ? bad.buf : "?");
	strbuf_release(&bad);
	tree_stat_path(st, hex, &mpath);
	unlink(mpath.buf);
	if (remove_tree(dir.buf, err) != 0)
		goto out;
	strbuf_addf(note, "file '%s/", dir.buf);
	add_printable(note, file.buf);
	if (dropped) {
		strbuf_addf(note, "' does not match its recorded digest (%s); %zu damaged "
				  "object%s removed from the store",
			    what.buf, dropped, dropped == 1 ? "" : "s");
		ret = STORE_TREE_DAMAGED;
	} else if (materialise(st, hex, &t, err) == 0) {
		strbuf_addf(note, "' did not match its recorded digest (%s); restored from the "
				  "store's intact object",
			    what.buf);
		ret = STORE_TREE_RESTORED;
	}
out:
	tree_release(&t);
	tree_release(&w);
	strbuf_release(&dir);
	strbuf_release(&mpath);
	strbuf_release(&werr);
	strbuf_release(&what);
	strbuf_release(&file);
	return ret;
}

int store_tree_restorable(const struct store *st, const char *hex)
{
	if (!hash_hex_valid(hex))
		return 0;
	if (store_has_tree(st, hex))
		return 1;
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	struct tree t = TREE_INIT;
	int ok = 0;
	store_tree_manifest_path(st, hex, &path);
	if (tree_read(path.buf, hex, &t, &err) < 0)
		goto out;
	ok = 1;
	for (size_t i = 0; ok && i < t.nr; i++) {
		if (t.v[i].kind == 'd')
			continue;
		struct stat sb;
		store_object_path(st, t.v[i].hex, &path);
		ok = stat(path.buf, &sb) == 0 && S_ISREG(sb.st_mode) &&
		     (uint64_t)sb.st_size == t.v[i].size;
	}
out:
	tree_release(&t);
	strbuf_release(&path);
	strbuf_release(&err);
	return ok;
}

/* ---- action cache -------------------------------------------------------------------- */

/* A cache entry is a symbolic link named by the key whose target is the
 * tree digest, cache/ab/<key> -> sha256-<digest in base64url>: reading it is
 * one readlink (a no-op rerun asks once per stage), and at 50 bytes the
 * target is kept in the inode itself (ext4 stores targets under 60 bytes
 * there; 64 hex digits would need a data block, read from disk when not
 * cached). */
#define CACHE_LINK_PREFIX "sha256-"
#define CACHE_LINK_LEN (sizeof(CACHE_LINK_PREFIX) - 1 + HASH_B64_SIZE - 1)

/* Entries written before links were used: a file holding "<tree hex>\n". */
static int cache_get_file(const char *path, char buf[HASH_HEX_SIZE + 1])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t got = 0;
	while (got < HASH_HEX_SIZE) {
		ssize_t n = fs_read_retry(fd, buf + got, HASH_HEX_SIZE + 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != HASH_HEX_SIZE || buf[64] != '\n')
		return 0;
	buf[64] = '\0';
	return 1;
}

int store_cache_get(const struct store *st, const char *key_hex, char tree_hex[HASH_HEX_SIZE])
{
	if (!hash_hex_valid(key_hex))
		return 0;
	struct strbuf p = STRBUF_INIT;
	fanout_path(st, "cache", key_hex, &p);
	char link[CACHE_LINK_LEN + 2], hex[HASH_HEX_SIZE + 1];
	const char *found = NULL;
	const size_t plen = sizeof(CACHE_LINK_PREFIX) - 1;
	ssize_t n = readlink(p.buf, link, sizeof(link));
	if (n == (ssize_t)CACHE_LINK_LEN) {
		if (!memcmp(link, CACHE_LINK_PREFIX, plen) &&
		    hash_b64_to_hex(link + plen, (size_t)n - plen, hex) == 0)
			found = hex;
	} else if (n < 0 && errno == EINVAL && cache_get_file(p.buf, hex)) {
		found = hex;
	}
	strbuf_release(&p);
	if (!found || !hash_hex_valid(found))
		return 0;
	memcpy(tree_hex, found, HASH_HEX_SIZE);
	return 1;
}

int store_cache_put(struct store *st, const char *key_hex, const char *tree_hex,
		    struct strbuf *err)
{
	static unsigned seq;
	if (!hash_hex_valid(key_hex) || !hash_hex_valid(tree_hex)) {
		strbuf_addstr(err, "invalid cache entry (key and tree must be SHA-256 hex)");
		return -1;
	}
	struct strbuf path = STRBUF_INIT, target = STRBUF_INIT, tmp = STRBUF_INIT;
	char b64[HASH_B64_SIZE];
	int ret = -1;
	fanout_path(st, "cache", key_hex, &path);
	hash_hex_to_b64(tree_hex, b64);
	strbuf_addstr(&target, CACHE_LINK_PREFIX);
	strbuf_addstr(&target, b64);
	/* made in tmp/ (emptied at the next start) and renamed over the name */
	for (int tries = 0;; tries++) {
		strbuf_reset(&tmp);
		strbuf_addf(&tmp, "%s/tmp/.link-%ld-%u", st->root, (long)getpid(), seq++);
		if (fs_symlink(target.buf, tmp.buf) == 0)
			break;
		if (errno != EEXIST || tries > 100) {
			strbuf_addf(err, "cannot write '%s': %s", path.buf, strerror(errno));
			goto out;
		}
	}
	fs_crash_step("rename", path.buf);
	int rc = rename(tmp.buf, path.buf);
	fs_crash_step_done();
	if (rc != 0 && errno == ENOENT) {
		if (make_parent(path.buf, err)) {
			unlink(tmp.buf);
			goto out;
		}
		fs_crash_step("rename", path.buf);
		rc = rename(tmp.buf, path.buf);
		fs_crash_step_done();
	}
	if (rc != 0) {
		strbuf_addf(err, "cannot rename '%s' to '%s': %s", tmp.buf, path.buf,
			    strerror(errno));
		unlink(tmp.buf);
		goto out;
	}
	if (st->fsync)
		fs_fsync_parent(path.buf);
	ret = 0;
out:
	strbuf_release(&path);
	strbuf_release(&target);
	strbuf_release(&tmp);
	return ret;
}

/* ---- walking the fan-out directories ------------------------------------------------ */

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in a directory, sorted; a missing directory is empty. */
static int list_names(const char *path, char ***names, size_t *nr, struct strbuf *err)
{
	size_t alloc = 0;
	*names = NULL;
	*nr = 0;
	DIR *d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		strbuf_addf(err, "cannot read '%s': %s", path, strerror(errno));
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		XGROW(*names, alloc, *nr + 1);
		(*names)[(*nr)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*nr > 1)
		qsort(*names, *nr, sizeof(char *), cmp_name);
	return 0;
}

static void free_names(char **names, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		free(names[i]);
	free(names);
}

static int for_each_fanout(const struct store *st, const char *sub, store_each_fn fn, void *ctx,
			   struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT;
	char **fans = NULL;
	size_t nfans = 0;
	int ret = -1;
	strbuf_addf(&dir, "%s/%s", st->root, sub);
	if (list_names(dir.buf, &fans, &nfans, err) < 0)
		goto out;
	for (size_t i = 0; i < nfans; i++) {
		char **names;
		size_t n;
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dir.buf, fans[i]);
		if (list_names(path.buf, &names, &n, err) < 0)
			goto out;
		for (size_t j = 0; j < n; j++) {
			int ok = hash_hex_valid(names[j]) && strlen(fans[i]) == 2 &&
				 !memcmp(names[j], fans[i], 2);
			strbuf_reset(&path);
			strbuf_addf(&path, "%s/%s/%s", dir.buf, fans[i], names[j]);
			fn(ctx, names[j], path.buf, ok);
		}
		free_names(names, n);
	}
	ret = 0;
out:
	free_names(fans, nfans);
	strbuf_release(&dir);
	strbuf_release(&path);
	return ret;
}

int store_for_each_object(const struct store *st, store_each_fn fn, void *ctx, struct strbuf *err)
{
	return for_each_fanout(st, "objects", fn, ctx, err);
}

int store_for_each_tree(const struct store *st, store_each_fn fn, void *ctx, struct strbuf *err)
{
	return for_each_fanout(st, "trees", fn, ctx, err);
}

int store_for_each_cache_entry(const struct store *st, store_each_fn fn, void *ctx,
			       struct strbuf *err)
{
	return for_each_fanout(st, "cache", fn, ctx, err);
}

/* out/<name> or stat/<name>: one flat directory, names in byte order. */
static int for_each_flat(const struct store *st, const char *sub, store_each_fn fn, void *ctx,
			 struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT;
	char **names = NULL;
	size_t n = 0;
	strbuf_addf(&dir, "%s/%s", st->root, sub);
	int ret = list_names(dir.buf, &names, &n, err);
	for (size_t i = 0; !ret && i < n; i++) {
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dir.buf, names[i]);
		fn(ctx, names[i], path.buf, hash_hex_valid(names[i]));
	}
	free_names(names, n);
	strbuf_release(&dir);
	strbuf_release(&path);
	return ret;
}

int store_for_each_outdir(const struct store *st, store_each_fn fn, void *ctx, struct strbuf *err)
{
	return for_each_flat(st, "out", fn, ctx, err);
}

int store_for_each_stat(const struct store *st, store_each_fn fn, void *ctx, struct strbuf *err)
{
	return for_each_flat(st, "stat", fn, ctx, err);
}

/* ---- removal (study gc) ------------------------------------------------------------ */

static int check_name(const char *name, struct strbuf *err)
{
	if (hash_hex_valid(name))
		return 0;
	strbuf_addstr(err, "invalid store name '");
	add_printable(err, name);
	strbuf_addch(err, '\'');
	return -1;
}

/* unlink(2) as one crash step; a missing name is fine. */
static int unlink_step(const char *path, struct strbuf *err)
{
	fs_crash_step("unlink", path);
	int r = unlink(path);
	fs_crash_step_done();
	if (r != 0 && errno != ENOENT) {
		strbuf_addf(err, "cannot remove '%s': %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int remove_fanout(struct store *st, const char *kind, const char *hex, struct strbuf *err)
{
	if (check_name(hex, err))
		return -1;
	struct strbuf p = STRBUF_INIT;
	fanout_path(st, kind, hex, &p);
	int ret = unlink_step(p.buf, err);
	strbuf_release(&p);
	return ret;
}

int store_remove_cache_entry(struct store *st, const char *key_hex, struct strbuf *err)
{
	return remove_fanout(st, "cache", key_hex, err);
}

int store_remove_tree(struct store *st, const char *hex, struct strbuf *err)
{
	return remove_fanout(st, "trees", hex, err);
}

int store_remove_object(struct store *st, const char *hex, struct strbuf *err)
{
	return remove_fanout(st, "objects", hex, err);
}

int store_remove_stat(struct store *st, const char *name, struct strbuf *err)
{
	if (check_name(name, err))
		return -1;
	struct strbuf p = STRBUF_INIT;
	tree_stat_path(st, name, &p);
	int ret = unlink_step(p.buf, err);
	strbuf_release(&p);
	return ret;
}

int store_remove_outdir(struct store *st, const char *name, struct strbuf *err)
{
	if (check_name(name, err))
		return -1;
	struct strbuf dir = STRBUF_INIT, tmp = STRBUF_INIT;
	struct stat sb;
	int ret = -1;
	store_tree_dir_path(st, name, &dir);
	if (lstat(dir.buf, &sb) != 0) {
		ret = errno == ENOENT ? 0 : -1;
		if (ret)
			strbuf_addf(err, "cannot read '%s': %s", dir.buf, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(sb.st_mode)) {
		ret = unlink_step(dir.buf, err); /* not a tree: nothing half to see */
		goto out;
	}
	/* the removal starts under tmp/ (emptied by the next lock holder), so
	 * out/ only ever holds whole trees */
	strbuf_addf(&tmp, "%s/tmp/gc-XXXXXX", st->root);
	if (!mkdtemp(tmp.buf)) {
		strbuf_addf(err, "cannot create a temporary directory in '%s/tmp': %s", st->root,
			    strerror(errno));
		strbuf_reset(&tmp);
		goto out;
	}
	/* moving a directory to another parent rewrites its "..": it must be
	 * writable (out/<hex>/ is 0555) */
	if (!(sb.st_mode & S_IWUSR) &&
	    chmod(dir.buf, (sb.st_mode & 07777) | S_IWUSR) != 0) {
		strbuf_addf(err, "cannot make '%s' writable: %s", dir.buf, strerror(errno));
		goto out;
	}
	fs_crash_step("rename", dir.buf);
	int r = rename(dir.buf, tmp.buf); /* replaces the empty temporary */
	fs_crash_step_done();
	if (r != 0) {
		if (errno == ENOENT) {
			ret = 0;
			goto out;
		}
		strbuf_addf(err, "cannot move '%s' to '%s': %s", dir.buf, tmp.buf, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (tmp.len) {
		struct strbuf ignored = STRBUF_INIT;
		(void)remove_tree(tmp.buf, &ignored); /* what is left goes with tmp/ */
		strbuf_release(&ignored);
	}
	strbuf_release(&dir);
	strbuf_release(&tmp);
	return ret;
}

/* ---- work dirs ------------------------------------------------------------------------ */

void store_workdir_path(const struct store *st, const char *key_hex, struct strbuf *out)
{
	strbuf_reset(out);
	strbuf_addf(out, "%s/work/%s", st->root, key_hex);
}

int store_make_workdir(struct store *st, const char *key_hex, struct strbuf *path,
		       struct strbuf *err)
{
	if (!hash_hex_valid(key_hex)) {
		strbuf_addstr(err, "invalid cache key for a work directory");
		return -1;
	}
	store_workdir_path(st, key_hex, path);
	for (int tries = 0; tries < 2; tries++) {
		if (mkdir(path->buf, 0700) == 0)
			return 0;
		if (errno != EEXIST || tries)
			break;
		/* left by a killed run: work/ belongs to the lock holder */
		if (remove_tree(path->buf, err) < 0)
			return -1;
	}
	int e = errno;
	strbuf_addf(err, "cannot create the work directory '%s': %s", path->buf, strerror(e));
	strbuf_reset(path);
	errno = e;
	return -1;
}

int store_workdir_subdirs(const char *dir, struct strbuf *err)
{
	static const char *const names[] = { "cwd", "out", "tmp" };
	struct strbuf p = STRBUF_INIT;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/%s", dir, names[i]);
		if (mkdir(p.buf, 0700) < 0) {
			int e = errno;
			strbuf_addf(err, "cannot create '%s': %s", p.buf, strerror(e));
			strbuf_release(&p);
			errno = e;
			return -1;
		}
	}
	strbuf_release(&p);
	return 0;
}
