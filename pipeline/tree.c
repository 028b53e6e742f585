/*
 * tree: the tree-manifest format (build by directory walk, canonical text,
 * strict parse, first difference). See tree.h and docs/store.md. The store,
 * `study hash`, `study verify` and `verify --rerun` all use this one module.
 */
#include "tree.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tree_init(struct tree *t)
{
	t->v = NULL;
	t->nr = t->alloc = 0;
}

void tree_release(struct tree *t)
{
	for (size_t i = 0; i < t->nr; i++)
		free(t->v[i].path);
	free(t->v);
	tree_init(t);
}

struct tree_entry *tree_add(struct tree *t, const char *path, char kind, const char *hex,
			    uint64_t size)
{
	XGROW(t->v, t->alloc, t->nr + 1);
	struct tree_entry *e = &t->v[t->nr++];
	e->path = xstrdup(path);
	e->kind = kind;
	memcpy(e->hex, hex ? hex : TREE_ZERO_HEX, HASH_HEX_SIZE - 1);
	e->hex[HASH_HEX_SIZE - 1] = '\0';
	e->size = size;
	return e;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tree_entry *)a)->path, ((const struct tree_entry *)b)->path);
}

void tree_sort(struct tree *t)
{
	if (t->nr > 1)
		qsort(t->v, t->nr, sizeof(*t->v), entry_cmp);
}

void tree_format(const struct tree *t, struct strbuf *out)
{
	strbuf_addstr(out, TREE_HEADER);
	for (size_t i = 0; i < t->nr; i++) {
		const struct tree_entry *e = &t->v[i];
		strbuf_addf(out, "%c %s %llu %s\n", e->kind, e->hex, (unsigned long long)e->size,
			    e->path);
	}
}

int tree_is_ctrl(unsigned char c) { return c < 0x20 || c == 0x7f; }

void tree_add_printable(struct strbuf *sb, const char *s)
{
	for (; *s; s++)
		strbuf_addch(sb, tree_is_ctrl((unsigned char)*s) ? '?' : *s);
}

int tree_path_valid(const char *p)
{
	if (!*p || *p == '/')
		return 0;
	const char *comp = p;
	for (const char *s = p;; s++) {
		if (*s == '/' || *s == '\0') {
			size_t n = (size_t)(s - comp);
			if (n == 0 || (n == 1 && comp[0] == '.') ||
			    (n == 2 && comp[0] == '.' && comp[1] == '.'))
				return 0;
			if (*s == '\0')
				return 1;
			comp = s + 1;
		} else if (tree_is_ctrl((unsigned char)*s)) {
			return 0;
		}
	}
}

int tree_parse(const char *text, size_t len, const char *what, struct tree *t,
	       struct strbuf *err)
{
	size_t hl = strlen(TREE_HEADER);
	if (len < hl || memcmp(text, TREE_HEADER, hl)) {
		strbuf_addf(err, "malformed tree manifest '%s': bad header", what);
		return -1;
	}
	const char *p = text + hl, *end = text + len;
	unsigned long lineno = 1;
	size_t first = t->nr;
	while (p < end) {
		lineno++;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			goto bad;
		/* "<k> <64 hex> <size> <path>" */
		if (nl - p < 2 + 64 + 1 + 1 + 1 + 1 || (p[0] != 'f' && p[0] != 'x' && p[0] != 'd') ||
		    p[1] != ' ' || p[66] != ' ')
			goto bad;
		char hex[HASH_HEX_SIZE];
		memcpy(hex, p + 2, 64);
		hex[64] = '\0';
		if (!hash_hex_valid(hex))
			goto bad;
		const char *s = p + 67;
		if (*s < '0' || *s > '9' || (*s == '0' && s[1] != ' '))
			goto bad; /* no leading zeros: the text is canonical */
		uint64_t size = 0;
		for (; s < nl && *s >= '0' && *s <= '9'; s++) {
			if (size > (UINT64_MAX - 9) / 10)
				goto bad;
			size = size * 10 + (uint64_t)(*s - '0');
		}
		if (s >= nl || *s != ' ')
			goto bad;
		s++;
		if (p[0] == 'd' && (size || strcmp(hex, TREE_ZERO_HEX)))
			goto bad;
		char *path = xstrndup(s, (size_t)(nl - s));
		if (!tree_path_valid(path) || strlen(path) != (size_t)(nl - s) ||
		    (t->nr > first && strcmp(t->v[t->nr - 1].path, path) >= 0)) {
			free(path);
			goto bad;
		}
		struct tree_entry *e = tree_add(t, path, p[0], hex, size);
		(void)e;
		free(path);
		p = nl + 1;
	}
	if (t->nr == first) {
		strbuf_addf(err, "malformed tree manifest '%s': no entries", what);
		return -1;
	}
	return 0;
bad:
	while (t->nr > first)
		free(t->v[--t->nr].path);
	strbuf_addf(err, "malformed tree manifest '%s': line %lu", what, lineno);
	return -1;
}

int tree_read(const char *path, const char *hex, struct tree *t, struct strbuf *err)
{
	struct strbuf text = STRBUF_INIT;
	int ret = -1;
	if (strbuf_read_file(&text, path) != 0) {
		int e = errno;
		strbuf_addf(err, "cannot read '%s': %s", path, strerror(e));
		strbuf_release(&text);
		errno = e;
		return -1;
	}
	if (hex) {
		char check[HASH_HEX_SIZE];
		hash_buf_hex(text.buf, text.len, check);
		if (strcmp(check, hex)) {
			strbuf_addf(err, "tree manifest '%s' is corrupt (digest %s)", path, check);
			goto out;
		}
	}
	ret = tree_parse(text.buf, text.len, path, t, err);
out:
	strbuf_release(&text);
	errno = 0;
	return ret;
}

/* ---- building by walking a directory ---- */

struct walk {
	const char *top, *noun;
	tree_file_fn file;
	void *ctx;
	struct tree *t;
	struct strbuf rel;  /* path relative to top */
	struct strbuf full; /* scratch: top/rel for messages */
};

static const char *walk_full(struct walk *w)
{
	strbuf_reset(&w->full);
	strbuf_addf(&w->full, "%s/", w->top);
	tree_add_printable(&w->full, w->rel.buf);
	return w->full.buf;
}

static int walk_dir(struct walk *w, int dfd, struct strbuf *err);

/* Handle one directory entry `name` of dfd; w->rel already names it. */
static int walk_entry(struct walk *w, int dfd, const char *name, unsigned char dtype,
		      struct strbuf *err)
{
	struct stat sb;
	mode_t fmt;
	if (dtype == DT_REG) {
		fmt = S_IFREG;
	} else if (dtype == DT_DIR) {
		fmt = S_IFDIR;
	} else if (dtype == DT_LNK) {
		fmt = S_IFLNK;
	} else {
		if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
			strbuf_addf(err, "cannot stat '%s': %s", walk_full(w), strerror(errno));
			return -1;
		}
		fmt = sb.st_mode & S_IFMT;
	}
	if (fmt == S_IFDIR) {
		int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			strbuf_addf(err, "cannot open directory '%s': %s", walk_full(w),
				    strerror(errno));
			return -1;
		}
		size_t before = w->t->nr;
		if (walk_dir(w, fd, err))
			return -1;
		if (w->t->nr == before)
			tree_add(w->t, w->rel.buf, 'd', NULL, 0);
		return 0;
	}
	if (fmt == S_IFREG) {
		int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			strbuf_addf(err, "cannot read '%s': %s", walk_full(w), strerror(errno));
			return -1;
		}
		if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
			strbuf_addf(err, "cannot read '%s': %s", walk_full(w),
				    "not a regular file");
			close(fd);
			return -1;
		}
		char kind = (sb.st_mode & S_IXUSR) ? 'x' : 'f';
		struct tree_entry *e = tree_add(w->t, w->rel.buf, kind, NULL, 0);
		return w->file(w->ctx, fd, &sb, dfd, name, walk_full(w), e, err);
	}
	const char *what = fmt == S_IFLNK ? "a symbolic link" :
			   fmt == S_IFIFO ? "a fifo" :
			   fmt == S_IFSOCK ? "a socket" :
			   (fmt == S_IFCHR || fmt == S_IFBLK) ? "a device" : "not a regular file";
	strbuf_addf(err, "%s'%s' is %s (only regular files and directories are allowed)",
		    w->noun, walk_full(w), what);
	return -1;
}

/* Walk the directory open as dfd (takes ownership of dfd). */
static int walk_dir(struct walk *w, int dfd, struct strbuf *err)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		strbuf_addf(err, "cannot open directory '%s': %s", walk_full(w), strerror(errno));
		close(dfd);
		return -1;
	}
	size_t base = w->rel.len;
	int ret = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (base)
			strbuf_addch(&w->rel, '/');
		strbuf_addstr(&w->rel, name);
		for (const char *s = name; *s; s++) {
			if (tree_is_ctrl((unsigned char)*s)) {
				strbuf_addf(err, "%s'%s' has a control character or newline "
						 "in its name",
					    w->noun, walk_full(w));
				ret = -1;
				break;
			}
		}
		if (!ret)
			ret = walk_entry(w, dirfd(d), name, de->d_type, err);
		strbuf_setlen(&w->rel, base);
		if (ret)
			break;
		errno = 0;
	}
	if (!ret && errno) {
		strbuf_addf(err, "cannot read directory '%s': %s", walk_full(w), strerror(errno));
		ret = -1;
	}
	closedir(d);
	return ret;
}

int tree_walk(const char *dir, const char *noun, tree_file_fn file, void *ctx, struct tree *t,
	      struct strbuf *err)
{
	struct walk w = { dir, noun ? noun : "", file, ctx, t, STRBUF_INIT, STRBUF_INIT };
	/* O_NOFOLLOW: a stage that replaced its output by a symlink must not make us
	 * read (or, consuming, move away) whatever the link points to */
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int ret = -1;
	if (fd < 0)
		strbuf_addf(err, "cannot open %sdirectory '%s': %s", w.noun, dir, strerror(errno));
	else if (walk_dir(&w, fd, err) == 0) {
		tree_sort(t);
		ret = 0;
	}
	strbuf_release(&w.rel);
	strbuf_release(&w.full);
	return ret;
}

static int hash_one(void *ctx, int fd, const struct stat *sb, int dirfd, const char *name,
		    const char *display, struct tree_entry *e, struct strbuf *err)
{
	(void)ctx;
	(void)sb;
	(void)dirfd;
	(void)name;
	struct hash_ctx h;
	char buf[64 * 1024];
	uint64_t size = 0;
	ssize_t n;
	hash_init(&h);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			strbuf_addf(err, "cannot read '%s': %s", display, strerror(errno));
			close(fd);
			return -1;
		}
		hash_update(&h, buf, (size_t)n);
		size += (uint64_t)n;
	}
	close(fd);
	hash_final_hex(&h, e->hex);
	e->size = size;
	return 0;
}

int tree_walk_hash(const char *dir, const char *noun, struct tree *t, struct strbuf *err)
{
	return tree_walk(dir, noun, hash_one, NULL, t, err);
}

/* ---- comparing ---- */

int tree_first_difference(const struct tree *a, const struct tree *b, const char *aname,
			  const char *bname, int ignore_exec, struct strbuf *out,
			  struct strbuf *path)
{
	size_t i = 0, j = 0;
	const char *at = NULL;
	while (!at && (i < a->nr || j < b->nr)) {
		int c = i >= a->nr ? 1 : j >= b->nr ? -1 : strcmp(a->v[i].path, b->v[j].path);
		if (c < 0) {
			at = a->v[i].path;
			strbuf_addf(out, "'%s' only in the %s", at, aname);
		} else if (c > 0) {
			at = b->v[j].path;
			strbuf_addf(out, "'%s' only in the %s", at, bname);
		} else {
			const struct tree_entry *x = &a->v[i], *y = &b->v[j];
			char kx = x->kind, ky = y->kind;
			if (ignore_exec) {
				kx = kx == 'x' ? 'f' : kx;
				ky = ky == 'x' ? 'f' : ky;
			}
			if (strcmp(x->hex, y->hex) || x->size != y->size || kx != ky) {
				at = x->path;
				if (kx != ky && !strcmp(x->hex, y->hex))
					strbuf_addf(out, "'%s' differs in its executable bit", at);
				else
					strbuf_addf(out, "'%s' differs (%llu bytes in the %s, %llu in the %s)",
						    at, (unsigned long long)x->size, aname,
						    (unsigned long long)y->size, bname);
			}
			i++;
			j++;
		}
	}
	if (at && path) {
		strbuf_reset(path);
		strbuf_addstr(path, at);
	}
	return at != NULL;
}
