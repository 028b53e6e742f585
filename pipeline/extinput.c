/*
 * extinput: importing the study's external inputs into the store by content,
 * and the stat cache that lets a rerun skip reading what did not change.
 * See extinput.h for the rules and docs/store.md for the files.
 *
 * Stat cache file format (<store>/inputs/<SHA-256 of the input's real path>):
 *
 *   study-input-stat 1
 *   s <dev> <ino> <mode, octal> <size> <mtime s.ns> <ctime s.ns> <sha256> <path>
 *   o <dev> <ino> <mode, octal> <size> <mtime s.ns> <ctime s.ns> <sha256> -
 *
 * "s" lines describe the files of the input (path relative to a directory
 * input, "." for a file input); the "o" line, for a file input, the store's
 * object when it was last found intact. Anything malformed makes the whole
 * file count as empty: the cache can only cost a rehash, never a wrong digest.
 */
#include "extinput.h"
#include "fsutil.h"
#include "hash.h"
#include "strmap.h"
#include "strvec.h"
#include "tree.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STAT_HEADER "study-input-stat 1\n"
#define MAX_THREADS 8

/* ---- stat records ---------------------------------------------------------------- */

struct statrec {
	unsigned long long dev, ino, mode, size;
	long long mtime_s, mtime_ns, ctime_s, ctime_ns;
	char hex[HASH_HEX_SIZE];
};

static void rec_set(struct statrec *r, const struct stat *sb, const char *hex)
{
	r->dev = (unsigned long long)sb->st_dev;
	r->ino = (unsigned long long)sb->st_ino;
	r->mode = (unsigned long long)sb->st_mode;
	r->size = (unsigned long long)sb->st_size;
	r->mtime_s = (long long)sb->st_mtim.tv_sec;
	r->mtime_ns = (long long)sb->st_mtim.tv_nsec;
	r->ctime_s = (long long)sb->st_ctim.tv_sec;
	r->ctime_ns = (long long)sb->st_ctim.tv_nsec;
	memcpy(r->hex, hex, HASH_HEX_SIZE);
}

/* 1 when the file still has the recorded stat. */
static int rec_matches(const struct statrec *r, const struct stat *sb)
{
	struct statrec now;
	rec_set(&now, sb, r->hex);
	return now.dev == r->dev && now.ino == r->ino && now.mode == r->mode &&
	       now.size == r->size && now.mtime_s == r->mtime_s && now.mtime_ns == r->mtime_ns &&
	       now.ctime_s == r->ctime_s && now.ctime_ns == r->ctime_ns;
}

static void rec_line(struct strbuf *out, char tag, const struct statrec *r, const char *path)
{
	strbuf_addf(out, "%c %llu %llu %llo %llu %lld.%09lld %lld.%09lld %s %s\n", tag, r->dev,
		    r->ino, r->mode, r->size, r->mtime_s, r->mtime_ns, r->ctime_s, r->ctime_ns,
		    r->hex, path);
}

static int parse_ull(const char **p, int base, unsigned long long *v)
{
	char *end;
	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	*v = strtoull(*p, &end, base);
	if (errno)
		return -1;
	*p = end;
	return 0;
}

static int parse_time(const char **p, long long *s, long long *ns)
{
	unsigned long long a, b;
	if (parse_ull(p, 10, &a) || **p != '.')
		return -1;
	(*p)++;
	if (parse_ull(p, 10, &b) || b >= 1000000000ull)
		return -1;
	*s = (long long)a;
	*ns = (long long)b;
	return 0;
}

static int expect_space(const char **p)
{
	if (**p != ' ')
		return -1;
	(*p)++;
	return 0;
}

/* Parse one line (without its '\n') into r and its path; -1 when malformed. */
static int parse_rec(const char *line, size_t len, char *tag, struct statrec *r, char **path)
{
	char *copy = xstrndup(line, len);
	const char *p = copy;
	int ret = -1;
	if ((p[0] != 's' && p[0] != 'o') || p[1] != ' ')
		goto out;
	*tag = p[0];
	p += 2;
	if (parse_ull(&p, 10, &r->dev) || expect_space(&p) || parse_ull(&p, 10, &r->ino) ||
	    expect_space(&p) || parse_ull(&p, 8, &r->mode) || expect_space(&p) ||
	    parse_ull(&p, 10, &r->size) || expect_space(&p) ||
	    parse_time(&p, &r->mtime_s, &r->mtime_ns) || expect_space(&p) ||
	    parse_time(&p, &r->ctime_s, &r->ctime_ns) || expect_space(&p))
		goto out;
	if (strlen(p) < 66 || p[64] != ' ')
		goto out;
	memcpy(r->hex, p, 64);
	r->hex[64] = '\0';
	if (!hash_hex_valid(r->hex) || !p[65])
		goto out;
	*path = xstrdup(p + 65);
	ret = 0;
out:
	free(copy);
	return ret;
}

struct statcache {
	char *path;          /* the cache file; NULL without a store */
	struct strmap files; /* relative path -> struct statrec * */
	struct statrec obj;  /* the "o" line */
	int has_obj;
	struct strbuf text;  /* as read, to write only when something changed */
};

/* <store>/inputs/<SHA-256 of the real path>: one cache per input path,
 * whichever study or symbolic link names it. */
static void cache_load(struct statcache *c, const struct store *st, const char *abs)
{
	memset(c, 0, sizeof(*c));
	strbuf_init(&c->text, 0);
	if (!st || !st->root)
		return;
	char *real = realpath(abs, NULL);
	char hex[HASH_HEX_SIZE];
	hash_str_hex(real ? real : abs, hex);
	free(real);
	c->path = xasprintf("%s/inputs/%s", st->root, hex);
	if (strbuf_read_file(&c->text, c->path) != 0) {
		strbuf_reset(&c->text);
		return;
	}
	size_t hl = strlen(STAT_HEADER);
	if (c->text.len < hl || memcmp(c->text.buf, STAT_HEADER, hl))
		return;
	const char *p = c->text.buf + hl, *end = c->text.buf + c->text.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct statrec r;
		char tag = 0, *path = NULL;
		if (!nl || parse_rec(p, (size_t)(nl - p), &tag, &r, &path) != 0) {
			strmap_clear(&c->files, free); /* malformed: as if empty */
			c->has_obj = 0;
			return;
		}
		if (tag == 'o') {
			c->obj = r;
			c->has_obj = 1;
			free(path);
		} else {
			struct statrec *copy = xmalloc(sizeof(*copy));
			*copy = r;
			free(strmap_put(&c->files, path, copy));
			free(path);
		}
		p = nl + 1;
	}
}

static void cache_release(struct statcache *c)
{
	free(c->path);
	strmap_clear(&c->files, free);
	strbuf_release(&c->text);
}

/* Write `text` as the cache (atomically, via the store's tmp/), unless it is
 * what was read. Best effort: a cache that cannot be written costs a rehash. */
static void cache_write(struct statcache *c, const struct store *st, const struct strbuf *text)
{
	if (!c->path || (text->len == c->text.len && !memcmp(text->buf, c->text.buf, text->len)))
		return;
	struct strbuf dir = STRBUF_INIT, tmp = STRBUF_INIT, ignored = STRBUF_INIT;
	strbuf_addf(&dir, "%s/inputs", st->root);
	strbuf_addf(&tmp, "%s/tmp", st->root);
	if (mkdir(dir.buf, 0755) == 0 || errno == EEXIST)
		write_file_atomic_via(c->path, tmp.buf, text->buf, text->len, 0644, 0, &ignored);
	strbuf_release(&dir);
	strbuf_release(&tmp);
	strbuf_release(&ignored);
}

static int ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static int same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_mode == b->st_mode &&
	       a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* ---- reading files, several at once ------------------------------------------------ */

struct job {
	size_t entry;      /* index in the tree (0 for a file input) */
	char *full;        /* the file to read */
	int follow;        /* may be a symbolic link (a file input's own path) */
	int import;        /* copy into the store while hashing (else hash only) */
	/* results */
	char hex[HASH_HEX_SIZE];
	uint64_t size;
	int created;       /* a new object in the store */
	int cacheable;     /* not racy, not changed while read: may enter the stat cache */
	struct stat sb;    /* before reading */
	int rc;
	struct strbuf err;
};

static void job_init(struct job *j, size_t entry, char *full, int follow, int import)
{
	memset(j, 0, sizeof(*j));
	j->entry = entry;
	j->full = full;
	j->follow = follow;
	j->import = import;
	strbuf_init(&j->err, 0);
}

static void jobs_free(struct job *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		free(v[i].full);
		strbuf_release(&v[i].err);
	}
	free(v);
}

static void do_job(struct store *st, struct job *j)
{
	struct timespec t0;
	struct stat after;
	/* taken before the file is read: a change from now on gives it a time
	 * >= t0, so a file whose times are all < t0 can be recorded */
	clock_gettime(CLOCK_REALTIME_COARSE, &t0);
	int fd = open(j->full, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (j->follow ? 0 : O_NOFOLLOW));
	if (fd < 0) {
		strbuf_addf(&j->err, "cannot read '%s': %s", j->full, strerror(errno));
		j->rc = -1;
		return;
	}
	if (fstat(fd, &j->sb) != 0 || !S_ISREG(j->sb.st_mode)) {
		strbuf_addf(&j->err, "cannot read '%s': %s", j->full, "not a regular file");
		close(fd);
		j->rc = -1;
		return;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (j->import)
		j->rc = store_import_fd(st, fd, j->full, j->hex, &j->size, &j->created, &j->err);
	else
		j->rc = hash_fd_hex(fd, j->full, j->hex, &j->size, &j->err);
	j->cacheable = !j->rc && fstat(fd, &after) == 0 && same_stat(&j->sb, &after) &&
		       (uint64_t)j->sb.st_size == j->size && ts_before(&j->sb.st_mtim, &t0) &&
		       ts_before(&j->sb.st_ctim, &t0);
	close(fd);
}

struct pool {
	struct store *st;
	struct job *v;
	size_t nr, next;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	size_t i;
	while ((i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED)) < p->nr)
		do_job(p->st, &p->v[i]);
	return NULL;
}

static int by_size_desc(const void *a, const void *b)
{
	const struct job *x = a, *y = b;
	if (x->sb.st_size != y->sb.st_size)
		return x->sb.st_size < y->sb.st_size ? 1 : -1;
	return x->entry < y->entry ? -1 : x->entry > y->entry;
}

/* Run the jobs on up to `threads` threads, largest file first (each file is
 * hashed whole by one thread: the results do not depend on the order).
 * Returns the index of the failed job with the smallest entry, or -1. */
static long run_jobs(struct store *st, struct job *v, size_t nr, int threads)
{
	if (!nr)
		return -1;
	/* every job's sb.st_size was set from the walk: the biggest start first */
	qsort(v, nr, sizeof(*v), by_size_desc);
	char warm[HASH_HEX_SIZE];
	hash_str_hex("", warm); /* fetch SHA-256 once, before the threads */
	size_t nt = threads < 1 ? 1 : (size_t)threads;
	if (nt > MAX_THREADS)
		nt = MAX_THREADS;
	if (nt > nr)
		nt = nr;
	struct pool p = { st, v, nr, 0 };
	pthread_t th[MAX_THREADS];
	size_t started = 0;
	for (size_t i = 1; i < nt; i++)
		if (pthread_create(&th[started], NULL, worker, &p) == 0)
			started++;
	worker(&p);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	long bad = -1;
	for (size_t i = 0; i < nr; i++)
		if (v[i].rc && (bad < 0 || v[i].entry < v[bad].entry))
			bad = (long)i;
	return bad;
}

/* ---- formatting ------------------------------------------------------------------- */

static void add_size(struct strbuf *sb, uint64_t n)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	if (n < 1024) {
		strbuf_addf(sb, "%llu byte%s", (unsigned long long)n, n == 1 ? "" : "s");
		return;
	}
	double v = (double)n / 1024;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	strbuf_addf(sb, "%.1f %s", v, units[u]);
}

static void mismatch(const struct study_input *in, const char *hex, struct strbuf *err)
{
	if (in->is_dir)
		strbuf_addf(err, "directory '%s' has tree digest %s (as 'study hash' prints it), "
				 "but the study pins %s",
			    in->abs, hex, in->sha256);
	else
		strbuf_addf(err, "file '%s' has sha256 %s, but the study pins %s", in->abs, hex,
			    in->sha256);
}

/* Objects this import added: removed again when the import is refused. */
static void drop_created(struct store *st, const struct strvec *created)
{
	struct strbuf obj = STRBUF_INIT;
	for (size_t i = 0; i < created->nr; i++) {
		store_object_path(st, created->v[i], &obj);
		unlink(obj.buf);
	}
	strbuf_release(&obj);
}

/* Account for a finished job. */
static void job_done(const struct job *j, struct extinput_stats *s, struct strvec *created)
{
	s->hashed_files++;
	s->hashed_bytes += j->size;
	if (j->created) {
		s->new_files++;
		s->new_bytes += j->size;
		strvec_push(created, j->hex);
	}
}

/* A rehash of a file whose record exists copies only when the size moved
 * (an edit): a touched file is hashed, found in the store, and not copied. */
static int import_at_once(enum extinput_mode mode, const struct statrec *rec,
			  const struct stat *sb)
{
	return mode == EXTINPUT_IMPORT && (!rec || rec->size != (unsigned long long)sb->st_size);
}

/* ---- a directory ------------------------------------------------------------------- */

static int collect_file(void *ctx, int fd, const struct stat *sb, int dirfd, const char *name,
			const char *display, struct tree_entry *e, struct strbuf *err)
{
	struct strmap *stats = ctx;
	(void)dirfd;
	(void)name;
	(void)display;
	(void)err;
	struct stat *copy = xmalloc(sizeof(*copy));
	*copy = *sb;
	free(strmap_put(stats, e->path, copy));
	close(fd);
	return 0;
}

static void tree_digest(const struct tree *t, char hex[HASH_HEX_SIZE])
{
	struct strbuf m = STRBUF_INIT;
	tree_format(t, &m);
	hash_buf_hex(m.buf, m.len, hex);
	strbuf_release(&m);
}

static int resolve_dir(struct store *st, const struct study_input *in, enum extinput_mode mode,
		       int threads, struct stage_output *out, struct extinput_stats *s,
		       struct strbuf *err)
{
	struct tree t = TREE_INIT;
	struct strmap stats = STRMAP_INIT;
	struct statcache c;
	struct strbuf text = STRBUF_INIT, path = STRBUF_INIT, note = STRBUF_INIT;
	struct strvec created = STRVEC_INIT;
	struct job *jobs = NULL;
	size_t nj = 0;
	int ret = -1;

	cache_load(&c, st, in->abs);
	if (tree_walk(in->abs, "", collect_file, &stats, &t, err) != 0)
		goto out;
	if (!t.nr) {
		strbuf_addf(err, "directory '%s' is empty (an empty tree has no digest)", in->abs);
		goto out;
	}
	jobs = xcalloc(t.nr, sizeof(*jobs));
	for (size_t i = 0; i < t.nr; i++) {
		struct tree_entry *e = &t.v[i];
		if (e->kind == 'd')
			continue;
		const struct stat *sb = strmap_get(&stats, e->path);
		const struct statrec *rec = strmap_get(&c.files, e->path);
		s->files++;
		s->bytes += (uint64_t)sb->st_size;
		if (rec && rec_matches(rec, sb)) {
			memcpy(e->hex, rec->hex, HASH_HEX_SIZE);
			e->size = rec->size;
			continue;
		}
		job_init(&jobs[nj], i, xasprintf("%s/%s", in->abs, e->path), 0,
			 import_at_once(mode, rec, sb));
		jobs[nj++].sb = *sb;
	}
	long bad = run_jobs(st, jobs, nj, threads);
	for (size_t k = 0; k < nj; k++)
		if (!jobs[k].rc)
			job_done(&jobs[k], s, &created);
	if (bad >= 0) {
		strbuf_add(err, jobs[bad].err.buf, jobs[bad].err.len);
		goto refuse;
	}
	for (size_t k = 0; k < nj; k++) {
		memcpy(t.v[jobs[k].entry].hex, jobs[k].hex, HASH_HEX_SIZE);
		t.v[jobs[k].entry].size = jobs[k].size;
	}
	tree_digest(&t, out->digest);
	if (in->sha256 && strcmp(in->sha256, out->digest)) {
		mismatch(in, out->digest, err);
		ret = -2;
		goto refuse;
	}
	if (mode == EXTINPUT_IMPORT) {
		int ok = 0;
		if (store_has_tree(st, out->digest)) {
			int rc = store_tree_check(st, out->digest, &note, err);
			if (rc < 0)
				goto refuse;
			ok = rc != STORE_TREE_DAMAGED;
		}
		if (!ok) {
			/* every object must be there: import what is missing (its
			 * record said it was known, but the store lost it) */
			struct job *more = xcalloc(t.nr, sizeof(*more));
			size_t nm = 0;
			for (size_t i = 0; i < t.nr; i++) {
				struct stat osb;
				if (t.v[i].kind == 'd')
					continue;
				store_object_path(st, t.v[i].hex, &path);
				if (stat(path.buf, &osb) == 0)
					continue;
				job_init(&more[nm], i, xasprintf("%s/%s", in->abs, t.v[i].path), 0, 1);
				more[nm++].sb.st_size = (off_t)t.v[i].size;
			}
			long bad2 = run_jobs(st, more, nm, threads);
			for (size_t k = 0; k < nm; k++)
				if (!more[k].rc)
					job_done(&more[k], s, &created);
			if (bad2 >= 0) {
				strbuf_add(err, more[bad2].err.buf, more[bad2].err.len);
				jobs_free(more, nm);
				goto refuse;
			}
			int moved = 0;
			for (size_t k = 0; k < nm; k++) {
				struct tree_entry *e = &t.v[more[k].entry];
				if (strcmp(e->hex, more[k].hex) || e->size != more[k].size)
					moved = 1; /* it changed since it was hashed */
				memcpy(e->hex, more[k].hex, HASH_HEX_SIZE);
				e->size = more[k].size;
			}
			/* keep the newest read of each file for the stat cache */
			jobs = xrealloc(jobs, (nj + nm + 1) * sizeof(*jobs));
			memcpy(jobs + nj, more, nm * sizeof(*more));
			nj += nm;
			free(more);
			if (moved) {
				tree_digest(&t, out->digest);
				if (in->sha256 && strcmp(in->sha256, out->digest)) {
					mismatch(in, out->digest, err);
					ret = -2;
					goto refuse;
				}
			}
			char again[HASH_HEX_SIZE];
			if (store_put_manifest(st, &t, again, err) != 0)
				goto refuse;
			store_tree_record(st, out->digest);
		}
		s->in_store = 1;
	} else {
		s->in_store = st && st->root && store_tree_restorable(st, out->digest);
	}
	/* the new stat cache: what still matched, and what was read cleanly */
	strbuf_addstr(&text, STAT_HEADER);
	for (size_t i = 0; i < t.nr; i++) {
		const struct tree_entry *e = &t.v[i];
		if (e->kind == 'd')
			continue;
		const struct statrec *rec = strmap_get(&c.files, e->path);
		const struct stat *sb = strmap_get(&stats, e->path);
		const struct job *j = NULL;
		for (size_t k = nj; k-- > 0;) /* the last read of the entry wins */
			if (jobs[k].entry == i) {
				j = &jobs[k];
				break;
			}
		struct statrec r;
		if (j) {
			if (!j->cacheable || strcmp(j->hex, e->hex))
				continue;
			rec_set(&r, &j->sb, j->hex);
		} else if (rec && rec_matches(rec, sb)) {
			r = *rec;
		} else {
			continue;
		}
		rec_line(&text, 's', &r, e->path);
	}
	if (mode == EXTINPUT_IMPORT)
		cache_write(&c, st, &text);
	if (st && st->root) {
		store_tree_dir_path(st, out->digest, &path);
		out->path = strbuf_detach(&path, NULL);
	}
	ret = 0;
	goto out;
refuse:
	if (mode == EXTINPUT_IMPORT)
		drop_created(st, &created);
out:
	jobs_free(jobs, nj);
	tree_release(&t);
	strmap_clear(&stats, free);
	cache_release(&c);
	strbuf_release(&text);
	strbuf_release(&path);
	strbuf_release(&note);
	strvec_clear(&created);
	return ret;
}

/* ---- a file ---------------------------------------------------------------------------- */

/* In IMPORT mode: make sure the object of a file input is in the store and
 * intact, importing it from the original when it is not. The "o" record
 * makes it a stat when nothing changed. May change out->digest when the file
 * changed meanwhile (then checked against the pin again by the caller). */
static int ensure_object(struct store *st, const struct study_input *in, struct statcache *c,
			 struct stage_output *out, struct extinput_stats *s, struct strvec *created,
			 struct statrec *objrec, int *have_objrec, struct strbuf *err)
{
	struct strbuf obj = STRBUF_INIT;
	struct stat osb;
	int ret = -1;
	*have_objrec = 0;
	store_object_path(st, out->digest, &obj);
	if (c->has_obj && !strcmp(c->obj.hex, out->digest) && lstat(obj.buf, &osb) == 0 &&
	    rec_matches(&c->obj, &osb)) {
		*objrec = c->obj;
		*have_objrec = 1;
		ret = 0;
		goto out;
	}
	int rc = store_object_check(st, out->digest, 1, err);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		struct job j;
		job_init(&j, 0, xstrdup(in->abs), 1, 1);
		do_job(st, &j);
		if (j.rc) {
			strbuf_add(err, j.err.buf, j.err.len);
			free(j.full);
			strbuf_release(&j.err);
			goto out;
		}
		job_done(&j, s, created);
		memcpy(out->digest, j.hex, HASH_HEX_SIZE);
		free(j.full);
		strbuf_release(&j.err);
		store_object_path(st, out->digest, &obj);
	}
	/* the store's own copy, just checked or written: recorded once the
	 * clock has moved past its times (not racy) */
	if (lstat(obj.buf, &osb) == 0 && fs_wait_past(&osb.st_ctim) == 0 &&
	    lstat(obj.buf, &osb) == 0) {
		rec_set(objrec, &osb, out->digest);
		*have_objrec = 1;
	}
	ret = 0;
out:
	strbuf_release(&obj);
	return ret;
}

static int resolve_file(struct store *st, const struct study_input *in, enum extinput_mode mode,
			struct stage_output *out, struct extinput_stats *s, struct strbuf *err)
{
	struct statcache c;
	struct strvec created = STRVEC_INIT;
	struct strbuf text = STRBUF_INIT, path = STRBUF_INIT;
	struct statrec srcrec, objrec;
	int have_src = 0, have_obj = 0, ret = -1;
	struct stat sb;

	cache_load(&c, st, in->abs);
	if (stat(in->abs, &sb) != 0) {
		strbuf_addf(err, "cannot read '%s': %s", in->abs, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		strbuf_addf(err, "'%s' is no longer a regular file", in->abs);
		goto out;
	}
	s->files = 1;
	s->bytes = (uint64_t)sb.st_size;
	const struct statrec *rec = strmap_get(&c.files, ".");
	if (rec && rec_matches(rec, &sb)) {
		memcpy(out->digest, rec->hex, HASH_HEX_SIZE);
		srcrec = *rec;
		have_src = 1;
	} else {
		struct job j;
		job_init(&j, 0, xstrdup(in->abs), 1, import_at_once(mode, rec, &sb));
		do_job(st, &j);
		if (j.rc) {
			strbuf_add(err, j.err.buf, j.err.len);
			free(j.full);
			strbuf_release(&j.err);
			goto out;
		}
		job_done(&j, s, &created);
		memcpy(out->digest, j.hex, HASH_HEX_SIZE);
		if (j.cacheable) {
			rec_set(&srcrec, &j.sb, j.hex);
			have_src = 1;
		}
		free(j.full);
		strbuf_release(&j.err);
	}
	if (in->sha256 && strcmp(in->sha256, out->digest)) {
		mismatch(in, out->digest, err);
		ret = -2;
		goto refuse;
	}
	if (mode == EXTINPUT_IMPORT) {
		char before[HASH_HEX_SIZE];
		memcpy(before, out->digest, HASH_HEX_SIZE);
		if (ensure_object(st, in, &c, out, s, &created, &objrec, &have_obj, err) != 0)
			goto refuse;
		if (strcmp(before, out->digest)) {
			have_src = 0; /* it changed since it was hashed: read again next time */
			if (in->sha256 && strcmp(in->sha256, out->digest)) {
				mismatch(in, out->digest, err);
				ret = -2;
				goto refuse;
			}
		}
		s->in_store = 1;
		strbuf_addstr(&text, STAT_HEADER);
		if (have_src)
			rec_line(&text, 's', &srcrec, ".");
		if (have_obj)
			rec_line(&text, 'o', &objrec, "-");
		cache_write(&c, st, &text);
	} else if (st && st->root) {
		struct stat osb;
		store_object_path(st, out->digest, &path);
		s->in_store = stat(path.buf, &osb) == 0 && S_ISREG(osb.st_mode);
	}
	out->is_file = 1;
	if (st && st->root) {
		store_object_path(st, out->digest, &path);
		out->path = strbuf_detach(&path, NULL);
	}
	ret = 0;
	goto out;
refuse:
	if (mode == EXTINPUT_IMPORT)
		drop_created(st, &created);
out:
	cache_release(&c);
	strvec_clear(&created);
	strbuf_release(&text);
	strbuf_release(&path);
	return ret;
}

/* ---- the interface ---------------------------------------------------------------------- */

int extinput_resolve(struct store *st, const struct study_input *in, enum extinput_mode mode,
		     int jobs, struct stage_output *out, struct extinput_stats *stats,
		     struct strbuf *err)
{
	memset(stats, 0, sizeof(*stats));
	free(out->path);
	memset(out, 0, sizeof(*out));
	if (in->is_dir)
		return resolve_dir(st, in, mode, jobs, out, stats, err);
	return resolve_file(st, in, mode, out, stats, err);
}

int extinput_resolve_all(const struct plan *p, struct store *st, enum extinput_mode mode,
			 int jobs, const char *wanted, struct stage_output *ext,
			 void (*note)(void *ctx, size_t i, const struct extinput_stats *s),
			 void *ctx, struct strbuf *err)
{
	struct strbuf e = STRBUF_INIT;
	int ret = 0;
	for (size_t i = 0; i < p->externals_nr && !ret; i++) {
		const struct study_input *in = p->externals[i].input;
		struct extinput_stats s;
		if (wanted && !wanted[i])
			continue;
		strbuf_reset(&e);
		int rc = extinput_resolve(st, in, mode, jobs, &ext[i], &s, &e);
		if (rc == 0) {
			if (note)
				note(ctx, i, &s);
			continue;
		}
		struct srcpos at = rc == -2 ? in->sha256_pos : in->path_pos;
		strbuf_addf(err, "%s:%d:%d: input '%s': %s", p->study->path, at.line, at.col,
			    in->name, e.buf);
		ret = -1;
	}
	strbuf_release(&e);
	return ret;
}

void extinput_describe(const struct plan *p, size_t i, const struct stage_output *ext,
		       const struct extinput_stats *s, struct strbuf *out)
{
	const struct plan_external *x = &p->externals[i];
	strbuf_addf(out, "%s: sha256:%.12s from '%s' (%llu file%s, ", x->id,
		    ext[i].digest, x->input->abs, (unsigned long long)s->files,
		    s->files == 1 ? "" : "s");
	add_size(out, s->bytes);
	strbuf_addf(out, "): hashed %llu file%s", (unsigned long long)s->hashed_files,
		    s->hashed_files == 1 ? "" : "s");
	if (s->hashed_files) {
		strbuf_addstr(out, " (");
		add_size(out, s->hashed_bytes);
		strbuf_addch(out, ')');
	}
	if (s->new_files) {
		strbuf_addf(out, ", %llu new in the store (", (unsigned long long)s->new_files);
		add_size(out, s->new_bytes);
		strbuf_addch(out, ')');
	} else if (!s->in_store) {
		strbuf_addstr(out, ", not in the store yet");
	}
}

void extinput_repair_file(struct store *st, const char *hex, struct strbuf *note)
{
	struct strbuf err = STRBUF_INIT;
	int rc = store_object_check(st, hex, 1, &err);
	if (rc < 0)
		strbuf_addf(note, "; the input could not be checked: %s", err.buf);
	else if (rc == 0)
		strbuf_addstr(note, "; its damaged copy was removed from the store, the next run"
				    " imports it again");
	else
		strbuf_addstr(note, "; its content in the store is intact");
	strbuf_release(&err);
}

void extinput_release(struct stage_output *ext, size_t nr)
{
	for (size_t i = 0; ext && i < nr; i++) {
		free(ext[i].path);
		ext[i].path = NULL;
	}
}
