/*
 * study: the study-file loader. It reads the file into memory, feeds it to
 * libyaml's event parser, builds a small position-annotated node tree (no
 * anchors, aliases or tags; bounded depth; duplicate keys rejected as each
 * mapping closes), then validates the tree section by section into a
 * struct study: names, entry keys, params (converted to cJSON), resources,
 * `after`, the ${...} templates of every `run` element, and cycles among data
 * entries. Every error becomes one "path:line:col: message" diagnostic with
 * the offending source line and a caret. The language is documented in
 * docs/study-format.md; the interface in study.h.
 */
#include "study.h"
#include "slurm.h"
#include "canon.h"
#include "expand.h"
#include "hash.h"
#include "study_tree.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* ---- the node tree (struct node: study_tree.h) ---------------------------- */

struct arena_chunk {
	struct arena_chunk *prev;
	size_t size, used;
	size_t mapped;          /* 1: mmap()ed, else xmalloc()ed */
	char data[];
};

struct arena {
	struct arena_chunk *head;
};

struct spart {
	enum tvar kind;
	size_t off; /* into loader.stext, SIZE_MAX for none */
};

/* Children of the collections still open, one growable vector per depth. */
struct pending {
	struct node **v;
	size_t nr, alloc;
};

struct loader {
	const char *path;
	const char *buf;
	size_t len;
	size_t *lines;       /* byte offset of each line's first byte */
	size_t lines_nr, lines_alloc;
	int lines_wanted;    /* 0 while the buffer is not known to be reasonable */
	struct strbuf *err;
	struct study *st;
	char *dir;           /* absolute directory of the study file */
	size_t *data_sorted; /* indices into st->data, sorted by name */
	size_t *method_sorted;
	size_t *stamp;       /* per data entry: serial of the last entry that referenced it */
	size_t serial;
	struct srcpos **ref_pos; /* per data entry: position of each data_refs[k] */
	struct arena arena;
	struct pending pending[STUDY_MAX_DEPTH];
	size_t *scratch;     /* check_duplicates' index array */
	size_t scratch_alloc;
	struct spart *sparts; /* the run being parsed: parts, texts, element starts */
	size_t sparts_nr, sparts_alloc;
	struct strbuf stext;
	size_t *selem, selem_alloc;
	const struct node **relem; /* the run being parsed: its elements, all steps */
	size_t relem_nr, relem_alloc;
	size_t *rstep, rstep_alloc; /* index into relem of each step's first element */
	int in_program;      /* parsing a step's argv[0] */
	size_t *refs, refs_alloc; /* data_refs of the entry being loaded */
	struct expand *x;     /* defaults, matrices, seeds (expand.c) */
};

static const char *const section_names[] = {
	"data", "models", "methods", "mitigations", "evaluations", "report",
};

/*
 * Chunks are mapped with MAP_POPULATE: a 10,000-model study builds a tree of
 * several megabytes, and faulting it in one page at a time costs more than
 * parsing it on virtual machines with slow page faults.
 */
static struct arena_chunk *chunk_new(size_t size)
{
	struct arena_chunk *c = mmap(NULL, size, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (c == MAP_FAILED)
		c = xcalloc(1, size); /* dies cleanly when memory is really exhausted */
	else
		c->mapped = 1;
	c->size = size - sizeof(*c);
	c->used = 0;
	return c;
}

/* Zeroed memory. align: a power of two, at most 8 (chunk data is 8-aligned). */
static void *arena_alloc(struct arena *a, size_t n, size_t align)
{
	struct arena_chunk *c = a->head;
	size_t size;
	void *p;

	if (c)
		c->used = (c->used + align - 1) & ~(align - 1);
	if (!c || c->size - c->used < n) {
		size = c ? c->size * 2 : (64u << 10);
		if (size > (4u << 20))
			size = 4u << 20;
		while (size < n + sizeof(*c))
			size *= 2;
		c = chunk_new(size);
		c->prev = a->head;
		a->head = c;
	}
	p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static void arena_release(struct arena *a);

/* The study's own arena (st->mem): names, arrays and run blocks live there. */
static void *st_alloc(struct loader *L, size_t n)
{
	return arena_alloc(L->st->mem, n ? n : 1, sizeof(void *));
}

static char *st_strdup(struct loader *L, const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(arena_alloc(L->st->mem, n, 1), s, n);
}

static void arena_release(struct arena *a)
{
	while (a->head) {
		struct arena_chunk *prev = a->head->prev;

		if (a->head->mapped)
			munmap(a->head, a->head->size + sizeof(*a->head));
		else
			free(a->head);
		a->head = prev;
	}
}

static const char *kind_name(const struct node *n)
{
	switch (n->kind) {
	case NODE_SCALAR:
		return "a scalar";
	case NODE_SEQ:
		return "a sequence";
	default:
		return "a mapping";
	}
}

/* ---- the interface expand.c uses (study_tree.h) ------------------------------ */

struct node *loader_new_node(struct loader *L, enum node_kind kind, size_t nr,
			     struct srcpos pos, struct srcpos end)
{
	struct node *n = arena_alloc(&L->arena, sizeof(*n), sizeof(void *)); /* zeroed */

	n->kind = kind;
	n->nr = (uint32_t)nr;
	n->pos = pos;
	n->end = end;
	n->kids = arena_alloc(&L->arena, (nr ? nr : 1) * sizeof(*n->kids), sizeof(void *));
	return n;
}

void *loader_st_alloc(struct loader *L, size_t n) { return st_alloc(L, n); }
char *loader_st_strdup(struct loader *L, const char *s) { return st_strdup(L, s); }
struct study *loader_study(struct loader *L) { return L->st; }
struct expand *loader_expand(struct loader *L) { return L->x; }
const char *loader_kind_name(const struct node *n) { return kind_name(n); }

/* ---- positions and diagnostics ---------------------------------------------- */

/*
 * Line starts as libyaml counts lines: "\r\n", "\r", "\n" and the Unicode
 * breaks NEL, LS, PS each end a line. A leading BOM is not part of column 1.
 */
static void build_lines(struct loader *L)
{
	const unsigned char *b = (const unsigned char *)L->buf;
	size_t i = 0, n = L->len;

	if (n >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf)
		i = 3;
	XGROW(L->lines, L->lines_alloc, 1);
	L->lines[L->lines_nr++] = i;
	while (i < n) {
		size_t brk = 0;

		if (b[i] == '\r')
			brk = (i + 1 < n && b[i + 1] == '\n') ? 2 : 1;
		else if (b[i] == '\n')
			brk = 1;
		else if (b[i] == 0xc2 && i + 1 < n && b[i + 1] == 0x85)
			brk = 2;
		else if (b[i] == 0xe2 && i + 2 < n && b[i + 1] == 0x80 &&
			 (b[i + 2] == 0xa8 || b[i + 2] == 0xa9))
			brk = 3;
		if (!brk) {
			i++;
			continue;
		}
		i += brk;
		XGROW(L->lines, L->lines_alloc, L->lines_nr + 1);
		L->lines[L->lines_nr++] = i;
	}
}

/* Byte offset -> 1-based line and column (columns count characters, like libyaml). */
/* The line table is built on first use: a file that loads cleanly rarely needs it. */
static void need_lines(struct loader *L)
{
	if (!L->lines_nr && L->lines_wanted)
		build_lines(L);
}

static struct srcpos pos_of_offset(struct loader *L, size_t off)
{
	struct srcpos p = { 1, 1 };
	size_t lo, hi, i;

	need_lines(L);
	lo = 0;
	hi = L->lines_nr;
	if (!L->lines_nr)
		return p;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (L->lines[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	p.line = (int)lo + 1;
	for (i = L->lines[lo]; i < off && i < L->len; i++)
		if (((unsigned char)L->buf[i] & 0xc0) != 0x80)
			p.col++;
	return p;
}

/* libyaml mark -> byte offset in the buffer. */
static size_t offset_of_pos(struct loader *L, struct srcpos m)
{
	size_t off, col = 1;

	need_lines(L);
	if (m.line < 1 || (size_t)m.line > L->lines_nr)
		return L->len;
	off = L->lines[m.line - 1];
	while (off < L->len && col < (size_t)m.col) {
		off++;
		while (off < L->len && ((unsigned char)L->buf[off] & 0xc0) == 0x80)
			off++;
		col++;
	}
	return off;
}

static struct srcpos pos_of_mark(yaml_mark_t m)
{
	struct srcpos p;

	p.line = (int)m.line + 1;
	p.col = (int)m.column + 1;
	return p;
}

/* Append s, replacing control bytes with \xNN so the message stays one line. */
static void add_printable(struct strbuf *sb, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			strbuf_addf(sb, "\\x%02x", c);
		else
			strbuf_addch(sb, c);
	}
}

static int vfail(struct loader *L, struct srcpos p, const char *fmt, va_list ap)
{
	struct strbuf msg = STRBUF_INIT;

	strbuf_vaddf(&msg, fmt, ap);
	if (L->x)
		expand_note(L, p, &msg);
	if (p.line < 1 || p.col < 1)
		p.line = p.col = 1;
	need_lines(L);
	strbuf_addf(L->err, "%s:%d:%d: ", L->path, p.line, p.col);
	add_printable(L->err, msg.buf, msg.len);
	if ((size_t)p.line <= L->lines_nr) {
		size_t s = L->lines[p.line - 1], e = s;
		int i;

		while (e < L->len && L->buf[e] != '\n' && L->buf[e] != '\r' && L->buf[e])
			e++;
		strbuf_addch(L->err, '\n');
		for (; s < e; s++) {
			unsigned char c = (unsigned char)L->buf[s];

			/* one byte each, so the caret stays aligned; tabs kept */
			strbuf_addch(L->err, (c < 0x20 && c != '\t') || c == 0x7f ? '?' : c);
		}
		strbuf_addch(L->err, '\n');
		for (i = 1; i < p.col; i++)
			strbuf_addch(L->err, ' ');
		strbuf_addch(L->err, '^');
	}
	strbuf_release(&msg);
	return -1;
}

__attribute__((format(printf, 3, 4)))
static int fail(struct loader *L, struct srcpos p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(L, p, fmt, ap);
	va_end(ap);
	return -1;
}

int loader_fail(struct loader *L, struct srcpos p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(L, p, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- from libyaml events to the node tree ----------------------------------- */

static int key_cmp_idx(const struct node *m, size_t a, size_t b)
{
	const struct node *ka = m->kids[2 * a], *kb = m->kids[2 * b];
	size_t n = ka->len < kb->len ? ka->len : kb->len;
	int c = memcmp(ka->val, kb->val, n);

	if (c)
		return c;
	if (ka->len != kb->len)
		return ka->len < kb->len ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int cmp_pair(const void *a, const void *b, void *map)
{
	return key_cmp_idx(map, *(const size_t *)a, *(const size_t *)b);
}

/* Duplicate keys: report the earliest second occurrence in document order. */
static int check_duplicates(struct loader *L, const struct node *m)
{
	size_t pairs = m->nr / 2, i, best = SIZE_MAX;
	size_t *idx;

	if (pairs < 2)
		return 0;
	if (pairs <= 8) { /* most mappings: quadratic is cheaper than sorting */
		for (i = 1; i < pairs; i++) {
			const struct node *b = m->kids[2 * i];
			size_t j;

			for (j = 0; j < i; j++) {
				const struct node *a = m->kids[2 * j];

				if (a->len == b->len && !memcmp(a->val, b->val, a->len))
					return fail(L, b->pos, "duplicate key '%s'", b->val);
			}
		}
		return 0;
	}
	XGROW(L->scratch, L->scratch_alloc, pairs);
	idx = L->scratch;
	for (i = 0; i < pairs; i++)
		idx[i] = i;
	qsort_r(idx, pairs, sizeof(*idx), cmp_pair, (void *)m);
	for (i = 1; i < pairs; i++) {
		const struct node *a = m->kids[2 * idx[i - 1]], *b = m->kids[2 * idx[i]];

		/* within a group of equal keys the smallest later index is the second occurrence */
		if (a->len == b->len && !memcmp(a->val, b->val, a->len) && idx[i] < best)
			best = idx[i];
	}
	if (best == SIZE_MAX)
		return 0;
	return fail(L, m->kids[2 * best]->pos, "duplicate key '%s'", m->kids[2 * best]->val);
}

static int parser_failure(struct loader *L, yaml_parser_t *p)
{
	struct srcpos pos;
	const char *problem = p->problem ? p->problem : "cannot parse the file";

	if (p->error == YAML_MEMORY_ERROR)
		return fail(L, (struct srcpos){ 1, 1 }, "out of memory while parsing");
	if (p->error == YAML_READER_ERROR) {
		pos = pos_of_offset(L, p->problem_offset);
		if (p->problem_value != -1)
			return fail(L, pos, "%s (byte 0x%02x)", problem, (unsigned)p->problem_value);
		return fail(L, pos, "%s", problem);
	}
	pos = pos_of_mark(p->problem_mark);
	if (p->context)
		return fail(L, pos, "%s %s", problem, p->context);
	return fail(L, pos, "%s", problem);
}

static struct node *new_node(struct loader *L, enum node_kind kind, const yaml_event_t *ev)
{
	struct node *n = arena_alloc(&L->arena, sizeof(*n), sizeof(void *)); /* zeroed */

	n->kind = kind;
	n->pos = pos_of_mark(ev->start_mark);
	n->end = pos_of_mark(ev->end_mark);
	return n;
}

/* Attach n to the innermost open collection (or make it the root). */
static int attach(struct loader *L, struct node **stack, size_t depth, struct node **root,
		  struct node *n)
{
	struct pending *pd;

	if (!depth) {
		*root = n;
		return 0;
	}
	pd = &L->pending[depth - 1];
	if (stack[depth - 1]->kind == NODE_MAP && pd->nr % 2 == 0 && n->kind != NODE_SCALAR)
		return fail(L, n->pos, "mapping keys must be scalars");
	XGROW(pd->v, pd->alloc, pd->nr + 1);
	pd->v[pd->nr++] = n;
	return 0;
}

static int event_checks(struct loader *L, const yaml_event_t *ev)
{
	const yaml_char_t *anchor = NULL, *tag = NULL;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return fail(L, pos_of_mark(ev->start_mark), "anchors and aliases are not supported");
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	default:
		return 0;
	}
	if (anchor)
		return fail(L, pos_of_mark(ev->start_mark), "anchors and aliases are not supported");
	if (tag)
		return fail(L, pos_of_mark(ev->start_mark), "tags are not supported");
	return 0;
}

/* One event into the tree. Returns 1 at the end of the stream, 0 to go on, -1 on error. */
static int handle_event(struct loader *L, const yaml_event_t *ev, struct node **stack,
			size_t *depth, struct node **root, int *docs)
{
	struct node *n;

	if (event_checks(L, ev))
		return -1;
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1)
			return fail(L, pos_of_mark(ev->start_mark),
				    "more than one document in the study file");
		return 0;
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.length > UINT32_MAX ||
		    memchr(ev->data.scalar.value, 0, ev->data.scalar.length))
			return fail(L, pos_of_mark(ev->start_mark),
				    "strings must not contain NUL characters");
		n = new_node(L, NODE_SCALAR, ev);
		n->len = ev->data.scalar.length;
		n->val = arena_alloc(&L->arena, n->len + 1, 1);
		memcpy(n->val, ev->data.scalar.value, n->len);
		n->val[n->len] = '\0';
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		return attach(L, stack, *depth, root, n);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (*depth >= STUDY_MAX_DEPTH)
			return fail(L, pos_of_mark(ev->start_mark),
				    "nesting is too deep (limit %d levels)", STUDY_MAX_DEPTH);
		n = new_node(L, ev->type == YAML_MAPPING_START_EVENT ? NODE_MAP : NODE_SEQ, ev);
		if (attach(L, stack, *depth, root, n))
			return -1;
		stack[(*depth)++] = n;
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		n = stack[--*depth];
		n->end = pos_of_mark(ev->end_mark);
		n->nr = L->pending[*depth].nr;
		n->kids = arena_alloc(&L->arena, (n->nr ? n->nr : 1) * sizeof(*n->kids),
				      sizeof(void *));
		if (n->nr)
			memcpy(n->kids, L->pending[*depth].v, n->nr * sizeof(*n->kids));
		L->pending[*depth].nr = 0;
		if (n->kind == NODE_MAP)
			return check_duplicates(L, n);
		return 0;
	default:
		return 0;
	}
}

static int parse_tree(struct loader *L, struct node **root)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct node *stack[STUDY_MAX_DEPTH];
	size_t depth = 0;
	int docs = 0, rc = 0;

	*root = NULL;
	if (!yaml_parser_initialize(&parser))
		return fail(L, (struct srcpos){ 1, 1 }, "out of memory while parsing");
	yaml_parser_set_input_string(&parser, (const unsigned char *)L->buf, L->len);
	for (;;) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = parser_failure(L, &parser);
			break;
		}
		rc = handle_event(L, &ev, stack, &depth, root, &docs);
		yaml_event_delete(&ev);
		if (rc) {
			rc = rc < 0 ? -1 : 0;
			break;
		}
	}
	yaml_parser_delete(&parser);
	if (!rc && !*root)
		rc = fail(L, (struct srcpos){ 1, 1 }, "empty study file");
	if (rc)
		*root = NULL;
	return rc;
}

/* ---- scalar helpers ------------------------------------------------------------- */

static int valid_name(const struct node *n, int allow_underscore)
{
	size_t i;

	if (n->len < 1 || n->len > 64)
		return 0;
	for (i = 0; i < n->len; i++) {
		char c = n->val[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (i > 0 && (c == '-' || (allow_underscore && c == '_')))
			continue;
		return 0;
	}
	return 1;
}

static int want_kind(struct loader *L, const struct node *n, enum node_kind kind,
		     const char *what)
{
	static const char *const want[] = { "a scalar", "a sequence", "a mapping" };

	if (n->kind == kind)
		return 0;
	return fail(L, n->pos, "%s must be %s, not %s", what, want[kind], kind_name(n));
}

/* Digits only, no sign; value <= max. */
static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (max - (unsigned)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*out = v;
	return 0;
}

int loader_parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	return parse_uint(s, max, out);
}

static int parse_size(const char *s, long long *out)
{
	static const char units[] = "KMGT";
	size_t n = strlen(s);
	unsigned long long v, mul = 1;
	const char *u;
	char digits[32];

	if (!n || n >= sizeof(digits))
		return -1;
	memcpy(digits, s, n + 1);
	u = strchr(units, digits[n - 1]);
	if (digits[n - 1] && u) {
		mul = 1ULL << (10 * (u - units + 1));
		digits[--n] = '\0';
	}
	if (parse_uint(digits, (unsigned long long)LLONG_MAX / mul, &v) || !v)
		return -1;
	*out = (long long)(v * mul);
	return 0;
}

int study_parse_size(const char *s, long long *out)
{
	return parse_size(s, out);
}

static int parse_duration(const char *s, double *out)
{
	size_t n = strlen(s), i, dots = 0;
	double mul = 1, v;
	char digits[32];

	if (!n || n >= sizeof(digits))
		return -1;
	memcpy(digits, s, n + 1);
	switch (digits[n - 1]) {
	case 'h':
		mul = 3600;
		digits[--n] = '\0';
		break;
	case 'm':
		mul = 60;
		digits[--n] = '\0';
		break;
	case 's':
		digits[--n] = '\0';
		break;
	}
	if (!n || digits[0] == '.' || digits[n - 1] == '.')
		return -1;
	for (i = 0; i < n; i++) {
		if (digits[i] == '.')
			dots++;
		else if (digits[i] < '0' || digits[i] > '9')
			return -1;
	}
	if (dots > 1)
		return -1;
	v = strtod(digits, NULL) * mul;
	if (!(v > 0) || v > 1e12)
		return -1;
	*out = v;
	return 0;
}

/* ---- params: YAML -> cJSON (YAML 1.2 core schema for plain scalars) ------------ */

/*
 * A number in params reaches the stage three ways — as the text of
 * ${params.X}, inside $STUDY_PARAMS, and inside the cache record — and all
 * three use one text, fixed here at load time and kept in a cJSON raw node
 * (canon.c writes raw nodes verbatim). The rule (docs/study-format.md,
 * "Params typing"):
 *
 *  - an integer literal ([-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+) is its exact
 *    value in decimal, of any size: no '+', no leading zeros, -0 is 0. A
 *    double would turn 10^15 into 1e+15 and 2^53+1 into 2^53.
 *  - a float literal (with '.' or an exponent) is the shortest text that
 *    reads back as the same double (canon_number; integral values below 1e15
 *    print as integers, so 1.0 is 1, as it always was and as JSON allows).
 *  - a float literal beyond a double's range (1e400), or nonzero but so
 *    small that it becomes 0 (1e-400), is a load error: the stage could not
 *    receive what was written (JSON has no infinity; 0 is a different value).
 *    Quoting it passes the text as a string. .inf and .nan are strings.
 *
 * Every pair of values the stage can tell apart thus has different text,
 * hence a different cache key; values it cannot tell apart (1 and 1.0 and
 * 01) share both the text and the key.
 */

/* Longest 0x/0o literal converted; the conversion is quadratic in it. */
#define MAX_RADIX_DIGITS 4096

static int all_in(const char *s, const char *set)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!strchr(set, *s))
			return 0;
	return 1;
}

/* The literal for messages: short ones whole, long ones cut. */
static void literal_for_msg(const struct node *n, struct strbuf *sb)
{
	if (n->len <= 40)
		strbuf_add(sb, n->val, n->len);
	else {
		strbuf_add(sb, n->val, 32);
		strbuf_addstr(sb, "...");
	}
}

/* Digits (most significant first, base `radix`) to exact decimal text. */
static void radix_to_decimal(const char *d, unsigned radix, struct strbuf *out)
{
	size_t nd = strlen(d), cap = nd * 2 + 2, len = 1, i, k;
	unsigned char *dec = xcalloc(cap, 1); /* decimal digits, least significant first */

	for (i = 0; i < nd; i++) {
		char c = d[i];
		unsigned carry = (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);

		for (k = 0; k < len; k++) {
			unsigned v = dec[k] * radix + carry;

			dec[k] = (unsigned char)(v % 10);
			carry = v / 10;
		}
		while (carry) {
			dec[len++] = (unsigned char)(carry % 10);
			carry /= 10;
		}
	}
	while (len > 1 && !dec[len - 1])
		len--;
	for (k = len; k-- > 0;)
		strbuf_addch(out, '0' + dec[k]);
	free(dec);
}

/*
 * 1: s is a core-schema integer, its exact decimal text appended to out;
 * 0: not an integer; -1: an error was reported.
 */
static int core_int(struct loader *L, const struct node *n, struct strbuf *out)
{
	const char *s = n->val, *d = s;

	if (*d == '-' || *d == '+')
		d++;
	if (all_in(d, "0123456789")) {
		while (d[0] == '0' && d[1])
			d++;
		if (*s == '-' && strcmp(d, "0"))
			strbuf_addch(out, '-');
		strbuf_addstr(out, d);
		return 1;
	}
	if (!(!strncmp(s, "0o", 2) && all_in(s + 2, "01234567")) &&
	    !(!strncmp(s, "0x", 2) && all_in(s + 2, "0123456789abcdefABCDEF")))
		return 0;
	if (n->len - 2 > MAX_RADIX_DIGITS) {
		struct strbuf lit = STRBUF_INIT;
		int rc;

		literal_for_msg(n, &lit);
		rc = fail(L, n->pos,
			  "integer '%s' has more than %d digits after '%.2s'; write it in decimal",
			  lit.buf, MAX_RADIX_DIGITS, s);
		strbuf_release(&lit);
		return rc;
	}
	radix_to_decimal(s + 2, s[1] == 'x' ? 16 : 8, out);
	return 1;
}

/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static int is_core_float(const char *s, int *nonzero)
{
	const char *p = s;
	int digits = 0;

	*nonzero = 0;
	if (*p == '-' || *p == '+')
		p++;
	for (; *p >= '0' && *p <= '9'; p++, digits++)
		*nonzero |= *p != '0';
	if (*p == '.') {
		p++;
		for (; *p >= '0' && *p <= '9'; p++, digits++)
			*nonzero |= *p != '0';
	}
	if (!digits)
		return 0;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return !*p;
}

/*
 * 1: s is a core-schema float, its canonical text appended to out; 0: not a
 * float; -1: it is out of a double's range and an error was reported.
 */
static int core_float(struct loader *L, const struct node *n, struct strbuf *out)
{
	struct strbuf lit = STRBUF_INIT;
	int nonzero, rc;
	double v;

	if (!is_core_float(n->val, &nonzero))
		return 0;
	v = strtod(n->val, NULL);
	if (isfinite(v) && (v != 0 || !nonzero)) {
		canon_number(v, out);
		return 1;
	}
	literal_for_msg(n, &lit);
	if (!isfinite(v))
		rc = fail(L, n->pos,
			  "number '%s' is too large for a double (at most about 1.8e308); "
			  "quote it to pass it as a string", lit.buf);
	else
		rc = fail(L, n->pos,
			  "number '%s' is too small for a double and would become 0; "
			  "quote it to pass it as a string", lit.buf);
	strbuf_release(&lit);
	return rc;
}

/* The cJSON node of a scalar; NULL when an error was reported. */
static cJSON *scalar_json(struct loader *L, const struct node *n)
{
	const char *s = n->val;
	struct strbuf num = STRBUF_INIT;
	cJSON *j;
	int rc;

	if (!n->plain)
		j = cJSON_CreateString(s);
	else if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
		 !strcmp(s, "NULL"))
		j = cJSON_CreateNull();
	else if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		j = cJSON_CreateTrue();
	else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		j = cJSON_CreateFalse();
	else if ((rc = core_int(L, n, &num)) != 0 || (rc = core_float(L, n, &num)) != 0) {
		if (rc < 0) {
			strbuf_release(&num);
			return NULL; /* reported */
		}
		j = cJSON_CreateRaw(num.buf);
	} else {
		j = cJSON_CreateString(s); /* .inf and .nan stay strings: JSON has no such numbers */
	}
	strbuf_release(&num);
	if (!j)
		fail(L, n->pos, "out of memory");
	return j;
}

cJSON *loader_scalar_json(struct loader *L, const struct node *n)
{
	return scalar_json(L, n);
}

static cJSON *node_json(struct loader *L, const struct node *n)
{
	cJSON *j, *kid;
	size_t i;

	if (n->kind == NODE_SCALAR)
		return expand_param_scalar(L, n); /* ${matrix.X}; reports its own errors */
	j = n->kind == NODE_MAP ? cJSON_CreateObject() : cJSON_CreateArray();
	if (!j)
		goto oom;
	for (i = 0; i < n->nr; i += n->kind == NODE_MAP ? 2 : 1) {
		kid = node_json(L, n->kids[n->kind == NODE_MAP ? i + 1 : i]);
		if (!kid) {
			cJSON_Delete(j);
			return NULL;
		}
		if (n->kind == NODE_MAP ? !cJSON_AddItemToObject(j, n->kids[i]->val, kid)
					: !cJSON_AddItemToArray(j, kid)) {
			cJSON_Delete(kid);
			cJSON_Delete(j);
			goto oom;
		}
	}
	return j;
oom:
	fail(L, n->pos, "out of memory");
	return NULL;
}

/* ---- templates ---------------------------------------------------------------- */

struct varinfo {
	const char *name;
	enum tvar kind;
	unsigned sections; /* bit per enum section */
};

/* Where each variable is available: one bit per enum section. */
enum {
	IN_DATA = 1 << SEC_DATA,
	IN_MODELS = 1 << SEC_MODELS,
	IN_METHODS = 1 << SEC_METHODS,
	IN_MITIGATIONS = 1 << SEC_MITIGATIONS,
	IN_EVALUATIONS = 1 << SEC_EVALUATIONS,
	IN_REPORT = 1 << SEC_REPORT,
	IN_ALL = IN_DATA | IN_MODELS | IN_METHODS | IN_MITIGATIONS | IN_EVALUATIONS | IN_REPORT,
};

static const struct varinfo vars[] = {
	{ "seed", TV_SEED, IN_ALL },
	{ "out", TV_OUT, IN_ALL },
	{ "root", TV_ROOT, IN_ALL },
	{ "stage", TV_STAGE, IN_ALL },
	{ "model.name", TV_MODEL_NAME, IN_MODELS | IN_METHODS | IN_MITIGATIONS | IN_EVALUATIONS },
	{ "model", TV_MODEL, IN_METHODS | IN_MITIGATIONS | IN_EVALUATIONS },
	{ "model.base", TV_MODEL_BASE, IN_MITIGATIONS | IN_EVALUATIONS },
	{ "method.name", TV_METHOD_NAME, IN_METHODS | IN_MITIGATIONS | IN_EVALUATIONS },
	{ "mitigation.name", TV_MITIGATION_NAME, IN_MITIGATIONS | IN_EVALUATIONS },
	{ "evaluation.name", TV_EVALUATION_NAME, IN_EVALUATIONS },
	{ "variant", TV_VARIANT, IN_EVALUATIONS },
	{ "evaluations", TV_EVALUATIONS, IN_REPORT },
	{ "evaluations.seeds", TV_EVALUATIONS_SEEDS, IN_REPORT },
};

void study_targ_text(const struct targ *t, struct strbuf *out)
{
	for (size_t k = 0; k < t->nr; k++) {
		const struct tpart *part = &t->parts[k];
		size_t i;

		if (part->kind == TV_LITERAL) {
			strbuf_addstr(out, part->text);
			continue;
		}
		if (part->kind == TV_DATA || part->kind == TV_PARAM) {
			strbuf_addf(out, "${%s.%s}", part->kind == TV_DATA ? "data" : "params",
				    part->text);
			continue;
		}
		for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
			if (vars[i].kind == part->kind)
				strbuf_addf(out, "${%s}", vars[i].name);
	}
}

/*
 * A run is parsed into scratch vectors (parts of all its elements, their texts
 * NUL-separated in one strbuf) and then copied into one exact-size block.
 * `first` is the index of the current element's first part.
 */
static void add_part(struct loader *L, size_t first, enum tvar kind, const char *text,
		     size_t len)
{
	if (kind == TV_LITERAL && L->sparts_nr > first &&
	    L->sparts[L->sparts_nr - 1].kind == TV_LITERAL) {
		/* the previous literal's text is the last one in stext: extend it */
		strbuf_setlen(&L->stext, L->stext.len - 1);
		strbuf_add(&L->stext, text, len);
		strbuf_addch(&L->stext, '\0');
		return;
	}
	XGROW(L->sparts, L->sparts_alloc, L->sparts_nr + 1);
	L->sparts[L->sparts_nr].kind = kind;
	L->sparts[L->sparts_nr].off = text ? L->stext.len : SIZE_MAX;
	if (text) {
		strbuf_add(&L->stext, text, len);
		strbuf_addch(&L->stext, '\0');
	}
	L->sparts_nr++;
}

/* Position of the '$' at value index i: the same-numbered '$' in the raw source. */
static struct srcpos dollar_pos(struct loader *L, const struct node *n, size_t i)
{
	size_t nth = 0, k, s = offset_of_pos(L, n->pos), e = offset_of_pos(L, n->end);

	for (k = 0; k < i; k++)
		if (n->val[k] == '$')
			nth++;
	for (k = s; k < e && k < L->len; k++) {
		if (L->buf[k] != '$')
			continue;
		if (!nth--)
			return pos_of_offset(L, k);
	}
	return n->pos; /* the value came from escapes; point at the scalar */
}

struct srcpos loader_dollar_pos(struct loader *L, const struct node *n, size_t i)
{
	return dollar_pos(L, n, i);
}

const char *loader_section_name(enum section sec)
{
	return section_names[sec];
}

static int name_cmp(const struct entry *a, const char *name, size_t len)
{
	size_t al = strlen(a->name), n = al < len ? al : len;
	int c = memcmp(a->name, name, n);

	if (c)
		return c;
	return al < len ? -1 : al > len;
}

/* Index of `name` in the section whose entries are arr (sorted indices idx), or -1. */
static long find_name(const struct entry *arr, const size_t *idx, size_t nr, const char *name,
		      size_t len)
{
	size_t lo = 0, hi = nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(&arr[idx[mid]], name, len);

		if (!c)
			return (long)idx[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int add_data_ref(struct loader *L, struct entry *e, long self, size_t j,
			const struct node *n, size_t at)
{
	if (L->stamp[j] == L->serial)
		return 0;
	L->stamp[j] = L->serial;
	/* collected here, copied into the study's arena when the entry is done */
	XGROW(L->refs, L->refs_alloc, e->data_refs_nr + 1);
	L->refs[e->data_refs_nr] = j;
	if (self >= 0) {
		struct srcpos **rp = &L->ref_pos[self];

		*rp = xrealloc(*rp, (e->data_refs_nr + 1) * sizeof(**rp));
		(*rp)[e->data_refs_nr] = dollar_pos(L, n, at); /* for cycle reports */
	}
	e->data_refs_nr++;
	return 0;
}

/* Resolve one ${name} (name = value[a..b)) at value index `at` of node n. */
static int resolve_var(struct loader *L, struct entry *e, long self, const struct node *n,
		       size_t first, size_t at, size_t a, size_t b)
{
	const char *name = n->val + a, *sec = section_names[e->section];
	size_t len = b - a, i;

	if (!len)
		return fail(L, dollar_pos(L, n, at), "empty variable '${}'");
	if (len > 5 && !memcmp(name, "data.", 5)) {
		long j = find_name(L->st->data, L->data_sorted, L->st->data_nr, name + 5, len - 5);

		if (j < 0)
			return fail(L, dollar_pos(L, n, at), "unknown data entry '%.*s' in '${%.*s}'", (int)len - 5,
				    name + 5, (int)len, name);
		add_part(L, first, TV_DATA, name + 5, len - 5);
		return add_data_ref(L, e, self, (size_t)j, n, at);
	}
	if (len > 7 && !memcmp(name, "inputs.", 7)) {
		for (i = 0; i < L->st->inputs_nr; i++)
			if (strlen(L->st->inputs[i].name) == len - 7 &&
			    !memcmp(L->st->inputs[i].name, name + 7, len - 7))
				break;
		if (i == L->st->inputs_nr)
			return fail(L, dollar_pos(L, n, at), "unknown input '%.*s' in '${%.*s}'",
				    (int)len - 7, name + 7, (int)len, name);
		add_part(L, first, TV_INPUT, name + 7, len - 7);
		return 0;
	}
	if (len > 7 && !memcmp(name, "params.", 7)) {
		char *key = xstrndup(name + 7, len - 7);
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(e->params, key);
		int bad = !v ? 1
			     : !(cJSON_IsString(v) || cJSON_IsRaw(v) || cJSON_IsBool(v));

		free(key);
		if (bad == 1 && !v)
			return fail(L, dollar_pos(L, n, at), "unknown parameter '%.*s' in '${%.*s}'", (int)len - 7,
				    name + 7, (int)len, name);
		if (bad)
			return fail(L, dollar_pos(L, n, at),
				    "parameter '%.*s' is not a string, number or boolean in '${%.*s}'",
				    (int)len - 7, name + 7, (int)len, name);
		add_part(L, first, TV_PARAM, name + 7, len - 7);
		return 0;
	}
	{
		const char *text;
		int rc = expand_bound_var(L, n, at, name, len, &text); /* matrix.X, vars.X */

		if (rc < 0)
			return -1;
		if (rc) {
			add_part(L, first, TV_LITERAL, text, strlen(text)); /* fixed at load time */
			return 0;
		}
	}
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if (strlen(vars[i].name) != len || memcmp(vars[i].name, name, len))
			continue;
		if (!(vars[i].sections & (1u << e->section)))
			return fail(L, dollar_pos(L, n, at), "variable '${%.*s}' is not available in section '%s'",
				    (int)len, name, sec);
		if (vars[i].kind == TV_EVALUATIONS && (at != 0 || b + 1 != n->len))
			return fail(L, dollar_pos(L, n, at), "'${evaluations}' must be a whole argument");
		if (vars[i].kind == TV_EVALUATIONS && L->in_program)
			return fail(L, dollar_pos(L, n, at),
				    "'${evaluations}' cannot be the program (the first element"
				    " of a command): it is a list of paths");
		add_part(L, first, vars[i].kind, NULL, 0);
		return 0;
	}
	return fail(L, dollar_pos(L, n, at), "unknown variable '${%.*s}'", (int)len, name);
}

static int parse_template(struct loader *L, struct entry *e, long self, const struct node *n)
{
	const char *v = n->val;
	size_t i = 0, lit = 0, first = L->sparts_nr;

	while (i < n->len) {
		const char *close;

		if (v[i] != '$' || i + 1 >= n->len || (v[i + 1] != '{' && v[i + 1] != '$')) {
			i++;
			continue;
		}
		if (i > lit)
			add_part(L, first, TV_LITERAL, v + lit, i - lit);
		if (v[i + 1] == '$') {
			add_part(L, first, TV_LITERAL, "$", 1);
			i += 2;
			lit = i;
			continue;
		}
		close = memchr(v + i + 2, '}', n->len - i - 2);
		if (!close)
			return fail(L, dollar_pos(L, n, i), "unterminated '${'");
		if (resolve_var(L, e, self, n, first, i, i + 2, (size_t)(close - v)))
			return -1;
		i = (size_t)(close - v) + 1;
		lit = i;
	}
	if (i > lit || L->sparts_nr == first)
		add_part(L, first, TV_LITERAL, v + lit, i - lit);
	return 0;
}

/* ---- entries -------------------------------------------------------------------- */

static int load_strings(struct loader *L, const struct node *n, const char *key,
			struct strpos **out, size_t *out_nr)
{
	size_t i;

	if (n->kind != NODE_SEQ)
		return fail(L, n->pos, "'%s' must be a sequence, not %s", key, kind_name(n));
	*out = st_alloc(L, n->nr * sizeof(**out));
	for (i = 0; i < n->nr; i++) {
		const struct node *s = n->kids[i];

		if (s->kind != NODE_SCALAR)
			return fail(L, s->pos, "'%s' items must be scalars, not %s", key,
				    kind_name(s));
		(*out)[i].s = st_strdup(L, s->val);
		(*out)[i].pos = s->pos;
		(*out_nr)++;
	}
	return 0;
}

static int valid_env_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_' ||
		      (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

static int load_resources(struct loader *L, const struct node *n, struct resources *r)
{
	size_t i;

	if (want_kind(L, n, NODE_MAP, "'resources'"))
		return -1;
	for (i = 0; i < n->nr; i += 2) {
		const struct node *k = n->kids[i], *v = n->kids[i + 1];
		unsigned long long u;

		if (strcmp(k->val, "cpus") && strcmp(k->val, "mem") && strcmp(k->val, "gpus") &&
		    strcmp(k->val, "time") && strcmp(k->val, "retries"))
			return fail(L, k->pos,
				    "unknown key '%s' in 'resources' (expected cpus, mem, gpus, time,"
				    " retries)", k->val);
		if (!strcmp(k->val, "cpus")) {
			if (v->kind != NODE_SCALAR || parse_uint(v->val, 1024, &u) || u < 1)
				return fail(L, v->pos, "'cpus' must be an integer from 1 to 1024");
			r->cpus = (int)u;
			r->cpus_pos = v->pos;
		} else if (!strcmp(k->val, "gpus")) {
			if (v->kind != NODE_SCALAR || parse_uint(v->val, 64, &u))
				return fail(L, v->pos, "'gpus' must be an integer from 0 to 64");
			r->gpus = (int)u;
			r->gpus_pos = v->pos;
		} else if (!strcmp(k->val, "retries")) {
			if (v->kind != NODE_SCALAR || parse_uint(v->val, 100, &u))
				return fail(L, v->pos, "'retries' must be an integer from 0 to 100");
			r->retries = (int)u;
		} else if (!strcmp(k->val, "mem")) {
			if (v->kind != NODE_SCALAR || parse_size(v->val, &r->mem_bytes))
				return fail(L, v->pos,
					    "'mem' must be a size: bytes, or an integer with "
					    "suffix K, M, G or T (e.g. 512M, 1G)");
			r->mem_pos = v->pos;
		} else {
			if (v->kind != NODE_SCALAR || parse_duration(v->val, &r->time_s))
				return fail(L, v->pos,
					    "'time' must be a positive duration: seconds, or a number "
					    "with suffix s, m or h (e.g. 90, 90s, 15m, 2h)");
		}
	}
	return 0;
}

static int load_after(struct loader *L, struct entry *e, const struct node *n)
{
	size_t i;

	if (load_strings(L, n, "after", &e->after, &e->after_nr))
		return -1;
	if (!e->after_nr)
		return fail(L, n->pos, "'after' must not be empty");
	L->serial++;
	for (i = 0; i < e->after_nr; i++) {
		const char *m = e->after[i].s;
		long j = find_name(L->st->methods, L->method_sorted, L->st->methods_nr, m,
				   strlen(m));

		if (j < 0)
			return fail(L, e->after[i].pos, "unknown method '%s' in 'after'", m);
		/* methods and data never overlap in a loader pass; reuse a per-method mark */
		if (L->stamp[L->st->data_nr + (size_t)j] == L->serial)
			return fail(L, e->after[i].pos, "duplicate method '%s' in 'after'", m);
		L->stamp[L->st->data_nr + (size_t)j] = L->serial;
	}
	return 0;
}

/* One block: the steps, their targs, then all their parts, then the parts'
 * texts. The elements are L->relem, step k's first one is L->rstep[k]. */
static void build_run(struct loader *L, struct entry *e, size_t nsteps)
{
	size_t nr = L->relem_nr, k;
	struct step *st = st_alloc(L, nsteps * sizeof(*st) + nr * sizeof(struct targ) +
				      L->sparts_nr * sizeof(struct tpart) + L->stext.len);
	struct targ *t = (struct targ *)(st + nsteps);
	struct tpart *p = (struct tpart *)(t + nr);
	char *text = (char *)(p + L->sparts_nr);

	memcpy(text, L->stext.buf, L->stext.len);
	for (k = 0; k < L->sparts_nr; k++) {
		p[k].kind = L->sparts[k].kind;
		p[k].text = L->sparts[k].off == SIZE_MAX ? NULL : text + L->sparts[k].off;
	}
	for (k = 0; k < nr; k++) {
		t[k].parts = p + L->selem[k];
		t[k].nr = L->selem[k + 1] - L->selem[k];
		t[k].pos = L->relem[k]->pos;
	}
	for (k = 0; k < nsteps; k++) {
		st[k].argv = t + L->rstep[k];
		st[k].nr = L->rstep[k + 1] - L->rstep[k];
	}
	e->steps = st;
	e->steps_nr = nsteps;
}

static void add_run_elem(struct loader *L, const struct node *n)
{
	XGROW(L->relem, L->relem_alloc, L->relem_nr + 1);
	L->relem[L->relem_nr++] = n;
}

#define RUN_MIXED "'run' mixes arguments and steps: write one command as a list of strings," \
		  " or several commands as a list of lists of strings"

/*
 * Collect the elements of `run` into L->relem and the steps' boundaries into
 * L->rstep: a list of scalars is one step; a list of lists is one step per
 * list (docs/study-format.md, "Multi-step stages"). Sets *nsteps and
 * returns 0, or -1 after a diagnostic.
 */
static int collect_run(struct loader *L, const struct node *run, size_t *nsteps)
{
	size_t i;
	int multi;

	if (run->kind != NODE_SEQ)
		return fail(L, run->pos, "'run' must be a sequence, not %s", kind_name(run));
	if (!run->nr)
		return fail(L, run->pos, "'run' must not be empty");
	multi = run->kids[0]->kind == NODE_SEQ;
	*nsteps = multi ? run->nr : 1;
	L->relem_nr = 0;
	XGROW(L->rstep, L->rstep_alloc, *nsteps + 1);
	for (i = 0; i < run->nr; i++) {
		const struct node *a = run->kids[i];
		size_t j;

		if (!multi) {
			if (a->kind == NODE_SEQ)
				return fail(L, a->pos, RUN_MIXED);
			if (a->kind != NODE_SCALAR)
				return fail(L, a->pos, "'run' items must be scalars, not %s",
					    kind_name(a));
			add_run_elem(L, a);
			continue;
		}
		if (a->kind == NODE_SCALAR)
			return fail(L, a->pos, RUN_MIXED);
		if (a->kind != NODE_SEQ)
			return fail(L, a->pos, "a step of 'run' must be a list of strings, not %s",
				    kind_name(a));
		if (!a->nr)
			return fail(L, a->pos, "step %zu of 'run' is empty", i + 1);
		L->rstep[i] = L->relem_nr;
		for (j = 0; j < a->nr; j++) {
			if (a->kids[j]->kind != NODE_SCALAR)
				return fail(L, a->kids[j]->pos,
					    "the items of a step of 'run' must be scalars, not %s",
					    kind_name(a->kids[j]));
			add_run_elem(L, a->kids[j]);
		}
	}
	if (!multi)
		L->rstep[0] = 0;
	L->rstep[*nsteps] = L->relem_nr;
	return 0;
}

/* self: index into st->data when e is a data entry, else -1. */
/* 1 when a `code:` path (relative to the root) exists but is not a regular
 * file: hashing /dev/zero or a fifo for the cache key would never end. A
 * missing file is left to the runner, which fails the stage. */
static int code_not_regular(struct loader *L, const char *path)
{
	struct strbuf p = STRBUF_INIT;
	struct stat sb;
	int bad;

	if (path[0] != '/' && L->st->root)
		strbuf_addf(&p, "%s/", L->st->root);
	strbuf_addstr(&p, path);
	bad = stat(p.buf, &sb) == 0 && !S_ISREG(sb.st_mode);
	strbuf_release(&p);
	return bad;
}

static int load_entry(struct loader *L, struct entry *e, enum section sec, long self,
		      const struct node *key, const struct node *val)
{
	const struct node *run = NULL, *params = NULL, *after = NULL;
	size_t i, n, nsteps = 0;

	if (!e->name)
		e->name = st_strdup(L, key->val);
	e->section = sec;
	e->pos = key->pos;
	e->res.cpus = 1;
	e->res.retries = -1;
	if (val->kind != NODE_MAP)
		return fail(L, val->pos, "entry '%s' must be a mapping, not %s", key->val,
			    kind_name(val));
	for (i = 0; i < val->nr; i += 2) {
		const struct node *k = val->kids[i], *v = val->kids[i + 1];

		if (!strcmp(k->val, "run")) {
			run = v;
		} else if (!strcmp(k->val, "params")) {
			if (want_kind(L, v, NODE_MAP, "'params'"))
				return -1;
			params = v;
		} else if (!strcmp(k->val, "code")) {
			size_t c;

			if (load_strings(L, v, "code", &e->code, &e->code_nr))
				return -1;
			for (c = 0; c < e->code_nr; c++) {
				if (!e->code[c].s[0])
					return fail(L, e->code[c].pos,
						    "'code' paths must not be empty");
				if (code_not_regular(L, e->code[c].s))
					return fail(L, e->code[c].pos,
						    "code file '%s' is not a regular file",
						    e->code[c].s);
			}
		} else if (!strcmp(k->val, "env")) {
			size_t c;

			if (load_strings(L, v, "env", &e->env, &e->env_nr))
				return -1;
			for (c = 0; c < e->env_nr; c++) {
				const char *s = e->env[c].s;

				if (!valid_env_name(s))
					return fail(L, e->env[c].pos,
						    "invalid environment variable name '%s'", s);
				if (!strncmp(s, "STUDY_", 6))
					return fail(L, e->env[c].pos,
						    "environment variable '%s' is reserved "
						    "(the STUDY_ prefix belongs to the orchestrator)", s);
			}
		} else if (!strcmp(k->val, "resources")) {
			if (load_resources(L, v, &e->res))
				return -1;
		} else if (!strcmp(k->val, "after") && sec == SEC_MITIGATIONS) {
			after = v;
			if (load_after(L, e, v))
				return -1;
		} else if (!strcmp(k->val, "description")) {
			if (want_kind(L, v, NODE_SCALAR, "'description'"))
				return -1;
		} else {
			int rc = expand_entry_key(L, e, k, v); /* matrix, name, replicate */

			if (rc < 0)
				return -1;
			if (!rc)
				return fail(L, k->pos, "unknown key '%s'", k->val);
		}
	}
	if (sec == SEC_MITIGATIONS && !after)
		return fail(L, key->pos, "mitigation '%s' has no 'after'", key->val);
	if (!run)
		return fail(L, key->pos, "entry '%s' has no 'run'", key->val);
	e->params = params ? node_json(L, params) : cJSON_CreateObject();
	if (!e->params)
		return params ? -1 : fail(L, key->pos, "out of memory");
	if (collect_run(L, run, &nsteps))
		return -1;
	e->run_pos = run->pos;
	L->serial++;
	L->sparts_nr = 0;
	strbuf_reset(&L->stext);
	XGROW(L->selem, L->selem_alloc, L->relem_nr + 1);
	for (i = 0, n = 0; i < L->relem_nr; i++) {
		while (n < nsteps && L->rstep[n] <= i)
			n++;
		L->selem[i] = L->sparts_nr;
		L->in_program = L->rstep[n - 1] == i; /* the first element of step n - 1 */
		if (parse_template(L, e, self, L->relem[i]))
			return -1;
	}
	L->in_program = 0;
	L->selem[L->relem_nr] = L->sparts_nr;
	build_run(L, e, nsteps);
	for (n = 0; n < nsteps; n++)
		e->steps[n].pos = run->kids[0]->kind == NODE_SEQ ? run->kids[n]->pos : run->pos;
	e->data_refs = st_alloc(L, e->data_refs_nr * sizeof(*e->data_refs));
	if (e->data_refs_nr)
		memcpy(e->data_refs, L->refs, e->data_refs_nr * sizeof(*e->data_refs));
	return 0;
}

/* ---- sections ------------------------------------------------------------------- */

static struct entry **section_array(struct study *st, enum section sec, size_t **nr)
{
	switch (sec) {
	case SEC_DATA:
		*nr = &st->data_nr;
		return &st->data;
	case SEC_MODELS:
		*nr = &st->models_nr;
		return &st->models;
	case SEC_METHODS:
		*nr = &st->methods_nr;
		return &st->methods;
	case SEC_MITIGATIONS:
		*nr = &st->mitigations_nr;
		return &st->mitigations;
	default:
		*nr = &st->evaluations_nr;
		return &st->evaluations;
	}
}


static int cmp_entry_idx(const void *a, const void *b, void *entries)
{
	const struct entry *arr = entries;

	return strcmp(arr[*(const size_t *)a].name, arr[*(const size_t *)b].name);
}

static size_t *sorted_index(const struct entry *arr, size_t nr)
{
	size_t *idx = xmalloc((nr ? nr : 1) * sizeof(*idx)), i;

	for (i = 0; i < nr; i++)
		idx[i] = i;
	qsort_r(idx, nr, sizeof(*idx), cmp_entry_idx, (void *)arr);
	return idx;
}

/* Validate the names of a section and create its (still empty) entries. */
static int section_names_pass(struct loader *L, enum section sec, const struct node *n)
{
	size_t i, *nr;
	struct entry **arr = section_array(L->st, sec, &nr);

	size_t count;

	if (n->kind != NODE_MAP)
		return fail(L, n->pos, "section '%s' must be a mapping, not %s",
			    section_names[sec], kind_name(n));
	if (expand_section_count(L, sec, n, &count)) /* defaults, matrices */
		return -1;
	*arr = st_alloc(L, count * sizeof(**arr));
	for (i = 0; i < n->nr; i += 2) {
		const struct node *k = n->kids[i];
		long made;

		if (expand_is_defaults(k))
			continue;
		if (!valid_name(k, 1))
			return fail(L, k->pos,
				    "invalid name '%s' in '%s' (use [a-z0-9][a-z0-9_-]*, "
				    "at most 64 characters)", k->val, section_names[sec]);
		if ((sec == SEC_METHODS || sec == SEC_MITIGATIONS) && !strcmp(k->val, "base"))
			return fail(L, k->pos, "'base' is reserved and cannot name a %s",
				    sec == SEC_METHODS ? "method" : "mitigation");
		made = expand_matrix_entries(L, sec, k, n->kids[i + 1], *arr, nr);
		if (made < 0)
			return -1;
		if (made)
			continue;
		(*arr)[*nr].name = st_strdup(L, k->val);
		(*arr)[*nr].section = sec;
		(*arr)[*nr].pos = k->pos;
		(*nr)++;
	}
	return expand_check_names(L, sec, *arr, *nr);
}

static int section_entries_pass(struct loader *L, enum section sec, const struct node *n)
{
	size_t i, j = 0, c, made, *nr;
	struct entry **arr = section_array(L->st, sec, &nr);

	for (i = 0; i < n->nr; i += 2) {
		const struct node *k = n->kids[i], *v = n->kids[i + 1];

		if (expand_is_defaults(k))
			continue;
		made = expand_entry_count(v); /* a matrix makes several */
		for (c = 0; c < made; c++, j++) {
			struct entry *e = &(*arr)[j];

			if (sec == SEC_MITIGATIONS &&
			    find_name(L->st->methods, L->method_sorted, L->st->methods_nr, e->name,
				      strlen(e->name)) >= 0)
				return fail(L, k->pos, "mitigation '%s' has the same name as a method",
					    e->name);
			if (load_entry(L, e, sec, sec == SEC_DATA ? (long)j : -1, k,
				       expand_begin_entry(L, sec, k, v, c, e->name)))
				return -1;
			expand_end_entry(L);
		}
	}
	return 0;
}

/* Depth-first search over data_refs; the first cycle in declaration order. */
static int check_cycles(struct loader *L)
{
	const struct study *st = L->st;
	size_t nr = st->data_nr, root, sp;
	unsigned char *color = xcalloc(nr + 1, 1);
	size_t *stack = xmalloc((nr + 1) * sizeof(*stack));
	size_t *next = xcalloc(nr + 1, sizeof(*next));
	int rc = 0;

	for (root = 0; root < nr && !rc; root++) {
		if (color[root])
			continue;
		sp = 0;
		stack[sp++] = root;
		color[root] = 1;
		while (sp && !rc) {
			size_t u = stack[sp - 1], v, k, from;
			struct strbuf msg = STRBUF_INIT;

			if (next[u] == st->data[u].data_refs_nr) {
				color[u] = 2;
				sp--;
				continue;
			}
			v = st->data[u].data_refs[next[u]++];
			if (!color[v]) {
				color[v] = 1;
				stack[sp++] = v;
				continue;
			}
			if (color[v] == 2)
				continue;
			for (from = 0; stack[from] != v; from++)
				;
			strbuf_addstr(&msg, "cycle:");
			for (k = from; k < sp; k++)
				strbuf_addf(&msg, " data/%s ->", st->data[stack[k]].name);
			strbuf_addf(&msg, " data/%s", st->data[v].name);
			rc = fail(L, L->ref_pos[v][next[v] - 1], "%s", msg.buf);
			strbuf_release(&msg);
		}
	}
	free(color);
	free(stack);
	free(next);
	return rc;
}

/* ---- top level -------------------------------------------------------------------- */

static int resolve_root(struct loader *L, const struct node *rootval)
{
	struct strbuf p = STRBUF_INIT;
	struct stat sb;
	char *real;

	if (rootval) {
		if (rootval->val[0] != '/')
			strbuf_addf(&p, "%s/", L->dir);
		strbuf_addstr(&p, rootval->val);
		real = realpath(p.buf, NULL);
		strbuf_release(&p);
		if (!real && errno == ENOENT)
			return fail(L, rootval->pos, "root directory '%s' does not exist",
				    rootval->val);
		if (!real)
			return fail(L, rootval->pos, "cannot resolve root '%s': %s", rootval->val,
				    strerror(errno));
		if (stat(real, &sb) || !S_ISDIR(sb.st_mode)) {
			free(real);
			return fail(L, rootval->pos, "root '%s' is not a directory", rootval->val);
		}
		L->st->root = real;
		return 0;
	}
	strbuf_addstr(&p, L->dir);
	for (;;) {
		size_t keep = p.len;
		char *slash;

		strbuf_addstr(&p, p.len > 1 ? "/.git" : ".git");
		if (!lstat(p.buf, &sb)) {
			strbuf_setlen(&p, keep);
			L->st->root = strbuf_detach(&p, NULL);
			return 0;
		}
		strbuf_setlen(&p, keep);
		slash = strrchr(p.buf, '/');
		if (!slash || keep == 1)
			break;
		strbuf_setlen(&p, slash == p.buf ? 1 : (size_t)(slash - p.buf));
	}
	strbuf_release(&p);
	L->st->root = xstrdup(L->dir);
	return 0;
}

/* ---- inputs: files and directories outside the store (extinput.h) ---------------- */

static int valid_sha256(const struct node *v)
{
	size_t i;

	if (v->len != 64)
		return 0;
	for (i = 0; i < 64; i++)
		if (!((v->val[i] >= '0' && v->val[i] <= '9') || (v->val[i] >= 'a' && v->val[i] <= 'f')))
			return 0;
	return 1;
}

/* One `NAME: {path: P, sha256: HEX}`. The path must exist now (a regular file
 * or a directory) so that a missing checkpoint is reported here, at its
 * `path:`, before anything runs; its content is read when it is imported. */
static int load_input(struct loader *L, struct study_input *in, const struct node *key,
		      const struct node *val)
{
	const struct node *path = NULL, *sha = NULL;
	struct strbuf abs = STRBUF_INIT;
	struct stat sb;
	size_t i;

	in->name = st_strdup(L, key->val);
	in->pos = key->pos;
	if (val->kind != NODE_MAP)
		return fail(L, val->pos, "input '%s' must be a mapping, not %s", key->val,
			    kind_name(val));
	for (i = 0; i < val->nr; i += 2) {
		const struct node *k = val->kids[i], *v = val->kids[i + 1];

		if (!strcmp(k->val, "path")) {
			if (want_kind(L, v, NODE_SCALAR, "'path'"))
				return -1;
			if (!v->len)
				return fail(L, v->pos, "'path' must not be empty");
			path = v;
		} else if (!strcmp(k->val, "sha256")) {
			if (v->kind != NODE_SCALAR || !valid_sha256(v))
				return fail(L, v->pos,
					    "'sha256' must be 64 lowercase hexadecimal digits (what "
					    "sha256sum prints for a file, 'study hash' for a directory)");
			sha = v;
		} else if (!strcmp(k->val, "description")) {
			if (want_kind(L, v, NODE_SCALAR, "'description'"))
				return -1;
		} else {
			return fail(L, k->pos, "unknown key '%s'", k->val);
		}
	}
	if (!path)
		return fail(L, key->pos, "input '%s' has no 'path'", key->val);
	in->path = st_strdup(L, path->val);
	in->path_pos = path->pos;
	if (path->val[0] != '/')
		strbuf_addf(&abs, "%s/", L->st->root);
	strbuf_addstr(&abs, path->val);
	in->abs = st_strdup(L, abs.buf);
	strbuf_release(&abs);
	if (sha) {
		in->sha256 = st_strdup(L, sha->val);
		in->sha256_pos = sha->pos;
	}
	if (stat(in->abs, &sb) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return fail(L, path->pos, "input '%s': '%s' does not exist", key->val,
				    in->abs);
		return fail(L, path->pos, "input '%s': cannot read '%s': %s", key->val, in->abs,
			    strerror(errno));
	}
	if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
		return fail(L, path->pos, "input '%s': '%s' is neither a regular file nor a directory",
			    key->val, in->abs);
	in->is_dir = S_ISDIR(sb.st_mode);
	return 0;
}

static int load_inputs(struct loader *L, const struct node *n)
{
	struct study *st = L->st;
	size_t i;

	if (n->kind != NODE_MAP)
		return fail(L, n->pos, "section 'inputs' must be a mapping, not %s", kind_name(n));
	st->inputs = st_alloc(L, (n->nr / 2) * sizeof(*st->inputs));
	for (i = 0; i < n->nr; i += 2) {
		const struct node *k = n->kids[i];

		if (!valid_name(k, 1))
			return fail(L, k->pos,
				    "invalid name '%s' in 'inputs' (use [a-z0-9][a-z0-9_-]*, "
				    "at most 64 characters)", k->val);
		if (load_input(L, &st->inputs[i / 2], k, n->kids[i + 1]))
			return -1;
		st->inputs_nr++;
	}
	return 0;
}

/* The directory that holds the study file, through symbolic links (of the
 * file and of its directories): `root:`, the default root (the git work tree
 * found from there), the default store and the git state all describe where
 * the file really is, whichever link or current directory named it. */
static int set_dir(struct loader *L)
{
	char *real = realpath(L->path, NULL);
	const char *path = real ? real : L->path; /* from memory: the name as given */
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path))
			  : xstrdup(".");
	free(real);

	L->dir = realpath(dir, NULL);
	if (!L->dir) {
		fail(L, (struct srcpos){ 0, 0 }, "cannot resolve the directory '%s': %s", dir,
		     strerror(errno));
		free(dir);
		return -1;
	}
	free(dir);
	return 0;
}

/* The expansion multiplies: models x (variants) x evaluations. A short file
 * can ask for billions of stages, so bound it here, before anything is built
 * (docs/reliability.md). */
#define STUDY_MAX_STAGES 100000

static int check_expansion(struct loader *L, const struct node *at)
{
	double stages = expand_stage_count(L->st); /* seeds and `replicate` included */

	if (stages > STUDY_MAX_STAGES)
		return fail(L, at->pos, "the study expands to %.0f stages, more than the limit of %d",
			    stages, STUDY_MAX_STAGES);
	return 0;
}

/* `executor:` — a mapping of name, partition, account, slurm_opts. */
static int load_executor(struct loader *L, const struct node *v)
{
	struct study_executor *x = &L->st->executor;

	if (want_kind(L, v, NODE_MAP, "'executor'"))
		return -1;
	x->pos = v->pos;
	for (size_t i = 0; i < v->nr; i += 2) {
		const struct node *k = v->kids[i], *val = v->kids[i + 1];

		if (!strcmp(k->val, "name")) {
			if (want_kind(L, val, NODE_SCALAR, "'executor.name'"))
				return -1;
			if (strcmp(val->val, "local") && strcmp(val->val, "slurm"))
				return fail(L, val->pos, "unknown executor '%s' (expected local or slurm)",
					    val->val);
			x->name = st_strdup(L, val->val);
		} else if (!strcmp(k->val, "partition") || !strcmp(k->val, "account")) {
			char what[32];

			snprintf(what, sizeof(what), "'executor.%s'", k->val);
			if (want_kind(L, val, NODE_SCALAR, what))
				return -1;
			if (!val->len)
				return fail(L, val->pos, "%s must not be empty", what);
			if (strchr(val->val, '\n') || strchr(val->val, ' '))
				return fail(L, val->pos, "%s must be one word, not '%s'", what, val->val);
			if (k->val[0] == 'p')
				x->partition = st_strdup(L, val->val);
			else
				x->account = st_strdup(L, val->val);
		} else if (!strcmp(k->val, "slurm_opts")) {
			struct strpos *opts = NULL;
			size_t nr = 0;
			struct strbuf why = STRBUF_INIT;

			if (load_strings(L, val, "executor.slurm_opts", &opts, &nr))
				return -1;
			x->slurm_opts = st_alloc(L, (nr + 1) * sizeof(*x->slurm_opts));
			for (size_t o = 0; o < nr; o++) {
				if (slurm_check_opt(opts[o].s, &why) < 0) {
					fail(L, opts[o].pos, "%s", why.buf);
					strbuf_release(&why);
					return -1;
				}
				x->slurm_opts[o] = opts[o].s;
			}
			x->slurm_opts[nr] = NULL;
			x->slurm_opts_nr = nr;
		} else {
			return fail(L, k->pos, "unknown key '%s' in 'executor' (expected name, "
				    "partition, account, slurm_opts)", k->val);
		}
	}
	if (!x->name)
		return fail(L, v->pos, "'executor' needs 'name' (local or slurm)");
	if (!strcmp(x->name, "local") && (x->partition || x->account || x->slurm_opts_nr))
		return fail(L, v->pos, "partition, account and slurm_opts are for the slurm "
			    "executor, not local");
	return 0;
}

static int load_top(struct loader *L, const struct node *root)
{
	struct study *st = L->st;
	const struct node *sec[SEC_REPORT + 1] = { 0 }, *rootval = NULL, *name = NULL;
	const struct node *report_key = NULL, *inputs = NULL;
	size_t i;
	int s;

	if (root->kind == NODE_SCALAR && root->plain && !root->len)
		return fail(L, (struct srcpos){ 1, 1 }, "empty study file");
	if (root->kind != NODE_MAP)
		return fail(L, root->pos, "the study file must be a mapping, not %s",
			    kind_name(root));
	for (i = 0; i < root->nr; i += 2) {
		const struct node *k = root->kids[i], *v = root->kids[i + 1];
		unsigned long long seed;

		for (s = 0; s <= SEC_REPORT; s++)
			if (!strcmp(k->val, section_names[s]))
				break;
		if (s <= SEC_REPORT) {
			sec[s] = v;
			if (s == SEC_REPORT)
				report_key = k;
		} else if (!strcmp(k->val, "study")) {
			if (want_kind(L, v, NODE_SCALAR, "'study'"))
				return -1;
			if (!valid_name(v, 0))
				return fail(L, v->pos,
					    "invalid study name '%s' (use [a-z0-9][a-z0-9-]*, at "
					    "most 64 characters)", v->val);
			name = v;
		} else if (!strcmp(k->val, "seed")) {
			if (v->kind != NODE_SCALAR || parse_uint(v->val, LLONG_MAX, &seed))
				return fail(L, v->pos,
					    "'seed' must be a non-negative integer (at most %lld)",
					    LLONG_MAX);
			free(st->seed);
			st->seed = xasprintf("%llu", seed);
		} else if (!strcmp(k->val, "root")) {
			if (want_kind(L, v, NODE_SCALAR, "'root'"))
				return -1;
			if (!v->len)
				return fail(L, v->pos, "'root' must not be empty");
			rootval = v;
		} else if (!strcmp(k->val, "executor")) {
			if (load_executor(L, v))
				return -1;
		} else if (!strcmp(k->val, "description")) {
			if (want_kind(L, v, NODE_SCALAR, "'description'"))
				return -1;
		} else if (!strcmp(k->val, "inputs")) {
			inputs = v;
		} else {
			int rc = expand_top_key(L, k, v); /* defaults, seeds */

			if (rc < 0)
				return -1;
			if (!rc)
				return fail(L, k->pos, "unknown top-level key '%s'", k->val);
		}
	}
	if (!name)
		return fail(L, root->pos, "missing required key 'study'");
	st->name = xstrdup(name->val);
	if (!st->seed)
		st->seed = xstrdup("0");
	if (resolve_root(L, rootval))
		return -1;
	if (inputs && load_inputs(L, inputs))
		return -1;
	for (s = SEC_DATA; s < SEC_REPORT; s++)
		if (sec[s] && section_names_pass(L, (enum section)s, sec[s]))
			return -1;
	L->data_sorted = sorted_index(st->data, st->data_nr);
	L->method_sorted = sorted_index(st->methods, st->methods_nr);
	L->stamp = xcalloc(st->data_nr + st->methods_nr + 1, sizeof(*L->stamp));
	L->ref_pos = xcalloc(st->data_nr + 1, sizeof(*L->ref_pos));
	for (s = SEC_DATA; s < SEC_REPORT; s++)
		if (sec[s] && section_entries_pass(L, (enum section)s, sec[s]))
			return -1;
	if (sec[SEC_REPORT]) {
		if (sec[SEC_REPORT]->kind != NODE_MAP)
			return fail(L, sec[SEC_REPORT]->pos, "'report' must be a mapping, not %s",
				    kind_name(sec[SEC_REPORT]));
		st->report = st_alloc(L, sizeof(*st->report));
		if (load_entry(L, st->report, SEC_REPORT, -1, report_key,
			       expand_begin_entry(L, SEC_REPORT, report_key, sec[SEC_REPORT], 0,
						  "report")))
			return -1;
		expand_end_entry(L);
	}
	if (expand_check_replicas(L))
		return -1;
	if (check_expansion(L, sec[SEC_EVALUATIONS] ? sec[SEC_EVALUATIONS] : root))
		return -1;
	return check_cycles(L);
}

static void loader_release(struct loader *L)
{
	size_t i;

	if (L->ref_pos)
		for (i = 0; i < L->st->data_nr; i++)
			free(L->ref_pos[i]);
	free(L->ref_pos);
	free(L->lines);
	free(L->dir);
	free(L->data_sorted);
	free(L->method_sorted);
	free(L->stamp);
	for (i = 0; i < STUDY_MAX_DEPTH; i++)
		free(L->pending[i].v);
	free(L->scratch);
	free(L->sparts);
	free(L->selem);
	free(L->relem);
	free(L->rstep);
	free(L->refs);
	expand_free(L->x);
	strbuf_release(&L->stext);
	arena_release(&L->arena);
}

int study_load_buffer(struct study *st, const char *path, const char *buf, size_t len,
		      struct strbuf *err)
{
	struct loader L;
	struct node *root = NULL;
	const char *nul;
	int rc;

	memset(st, 0, sizeof(*st));
	memset(&L, 0, sizeof(L));
	strbuf_init(&L.stext, 0);
	L.path = path;
	L.buf = buf;
	L.len = len;
	L.err = err;
	L.st = st;
	L.x = expand_new();
	st->path = xstrdup(path);
	st->mem = xcalloc(1, sizeof(struct arena));
	if (len > STUDY_MAX_FILE_BYTES) {
		rc = fail(&L, (struct srcpos){ 1, 1 }, "study file is too large (%zu bytes, limit %u)",
			  len, STUDY_MAX_FILE_BYTES);
		goto out;
	}
	hash_buf_hex(buf, len, st->digest);
	L.lines_wanted = 1;
	nul = memchr(buf, 0, len);
	if (nul) {
		rc = fail(&L, pos_of_offset(&L, (size_t)(nul - buf)), "NUL byte in the study file");
		goto out;
	}
	rc = set_dir(&L);
	if (!rc)
		rc = parse_tree(&L, &root);
	if (!rc)
		rc = load_top(&L, root);
out:
	loader_release(&L);
	if (rc)
		study_release(st);
	return rc;
}

int study_load(struct study *st, const char *path, struct strbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	struct stat info;
	char chunk[65536];
	int fd, rc;

	memset(st, 0, sizeof(*st));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &info)) {
		strbuf_addf(err, "cannot read '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (S_ISDIR(info.st_mode)) {
		strbuf_addf(err, "cannot read '%s': %s", path, strerror(EISDIR));
		close(fd);
		return -1;
	}
	if (S_ISREG(info.st_mode) && info.st_size > (off_t)STUDY_MAX_FILE_BYTES) {
		strbuf_addf(err, "%s:1:1: study file is too large (%lld bytes, limit %u)", path,
			    (long long)info.st_size, STUDY_MAX_FILE_BYTES);
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			strbuf_addf(err, "cannot read '%s': %s", path, strerror(errno));
			close(fd);
			strbuf_release(&sb);
			return -1;
		}
		if (!n)
			break;
		strbuf_add(&sb, chunk, (size_t)n);
		if (sb.len > STUDY_MAX_FILE_BYTES)
			break; /* not a regular file; study_load_buffer reports the size */
	}
	close(fd);
	rc = study_load_buffer(st, path, sb.buf, sb.len, err);
	strbuf_release(&sb);
	return rc;
}

static void entries_release(struct entry *arr, size_t nr)
{
	size_t i;

	for (i = 0; arr && i < nr; i++)
		cJSON_Delete(arr[i].params);
}

void study_release(struct study *st)
{
	free(st->path);
	free(st->name);
	free(st->seed);
	free(st->root);
	entries_release(st->data, st->data_nr);
	entries_release(st->models, st->models_nr);
	entries_release(st->methods, st->methods_nr);
	entries_release(st->mitigations, st->mitigations_nr);
	entries_release(st->evaluations, st->evaluations_nr);
	entries_release(st->report, 1);
	if (st->mem) {
		arena_release(st->mem);
		free(st->mem);
	}
	memset(st, 0, sizeof(*st));
}
