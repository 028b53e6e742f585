/*
 * expand: defaults, matrices and seeds, the loader hooks of expand.h. It
 * works on the loader's node tree (study_tree.h): a default is merged into
 * an entry by building a new mapping whose kids are the original nodes, so
 * every value keeps the position that set it; a matrix entry is loaded once
 * per combination with its axis values bound for ${matrix.AXIS}. The
 * language is documented in docs/study-format.md ("Defaults", "Matrices",
 * "Seeds").
 */
#include "expand.h"
#include "xalloc.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A section can make at most this many entries: each makes at least one
 * stage, and study.c bounds the stages by the same number. */
#define MAX_ENTRIES 100000
/* Room for every enum section (a section added after SEC_REPORT still fits). */
#define MAX_SECTIONS 16
_Static_assert(SEC_REPORT < MAX_SECTIONS, "expand: more sections than MAX_SECTIONS");

/* Where an entry's name came from, for duplicate reports. */
struct made {
	struct srcpos pos;  /* the entry's key, or its matrix's `name:` or `matrix:` */
	const char *matrix; /* the matrix entry that made it; NULL for a plain entry */
};

struct expand {
	const struct node *top;                 /* top-level defaults; NULL when none */
	const struct node *sec[MAX_SECTIONS];   /* top-level + section defaults, merged */
	/* the entry being loaded (expand_begin_entry), key NULL when none */
	const struct node *key, *val, *mx, *vars;
	enum section cur_sec;
	size_t combo;
	const char *name;
	/* the current section's entries, while its names are made */
	struct made *made;
	size_t made_nr, made_alloc;
};

struct expand *expand_new(void)
{
	return xcalloc(1, sizeof(struct expand));
}

void expand_free(struct expand *X)
{
	if (X)
		free(X->made);
	free(X);
}

/* ---- small helpers ------------------------------------------------------------- */

static const struct node *map_pair(const struct node *m, const char *key, int want_value)
{
	size_t i;

	if (!m || m->kind != NODE_MAP)
		return NULL;
	for (i = 0; i < m->nr; i += 2)
		if (!strcmp(m->kids[i]->val, key))
			return m->kids[i + want_value];
	return NULL;
}

static const struct node *map_get(const struct node *m, const char *key)
{
	return map_pair(m, key, 1);
}

static const struct node *map_key(const struct node *m, const char *key)
{
	return map_pair(m, key, 0);
}

static int pos_before(struct srcpos a, struct srcpos b)
{
	return a.line < b.line || (a.line == b.line && a.col < b.col);
}

int expand_is_defaults(const struct node *k)
{
	return !strcmp(k->val, "defaults");
}

/* ---- defaults -------------------------------------------------------------------- */

static const char *const default_keys[] = {
	"run", "params", "vars", "resources", "code", "env", "after", "replicate",
};

static int valid_axis_name(const char *s);

/* `vars`: a mapping of names ([a-z][a-z0-9_]*) to scalars. */
static int check_vars(struct loader *L, const struct node *v)
{
	size_t i;

	if (v->kind != NODE_MAP)
		return loader_fail(L, v->pos, "'vars' must be a mapping, not %s",
				   loader_kind_name(v));
	for (i = 0; i < v->nr; i += 2) {
		if (!valid_axis_name(v->kids[i]->val))
			return loader_fail(L, v->kids[i]->pos,
					   "invalid var name '%s' (use [a-z][a-z0-9_]*, at most 64 "
					   "characters)", v->kids[i]->val);
		if (v->kids[i + 1]->kind != NODE_SCALAR)
			return loader_fail(L, v->kids[i + 1]->pos, "vars must be scalars, not %s",
					   loader_kind_name(v->kids[i + 1]));
	}
	return 0;
}

static int merges_key_by_key(const char *key)
{
	return !strcmp(key, "params") || !strcmp(key, "vars") || !strcmp(key, "resources");
}

static int check_replicate_value(struct loader *L, const struct node *v, int *value)
{
	cJSON *j;
	int ok;

	if (v->kind != NODE_SCALAR || !v->plain)
		return loader_fail(L, v->pos, "'replicate' must be true or false");
	j = loader_scalar_json(L, v);
	if (!j)
		return -1;
	ok = cJSON_IsBool(j);
	if (ok)
		*value = cJSON_IsTrue(j);
	cJSON_Delete(j);
	return ok ? 0 : loader_fail(L, v->pos, "'replicate' must be true or false");
}

/* sec: the section of a section's defaults, SEC_REPORT for the top level's. */
static int check_defaults(struct loader *L, const struct node *d, enum section sec)
{
	size_t i, k;

	if (d->kind != NODE_MAP)
		return loader_fail(L, d->pos, "'defaults' must be a mapping, not %s",
				   loader_kind_name(d));
	for (i = 0; i < d->nr; i += 2) {
		const struct node *key = d->kids[i], *v = d->kids[i + 1];
		int b;

		for (k = 0; k < sizeof(default_keys) / sizeof(default_keys[0]); k++)
			if (!strcmp(key->val, default_keys[k]))
				break;
		if (!strcmp(key->val, "matrix") || !strcmp(key->val, "name") ||
		    !strcmp(key->val, "description"))
			return loader_fail(L, key->pos,
					   "'%s' cannot be a default; write it in the entry", key->val);
		if (k == sizeof(default_keys) / sizeof(default_keys[0]))
			return loader_fail(L, key->pos,
					   "unknown key '%s' in 'defaults' (expected run, params, vars, "
					   "resources, code, env, after, replicate)", key->val);
		if (!strcmp(key->val, "after") && sec != SEC_MITIGATIONS)
			return loader_fail(L, key->pos,
					   "'after' can only be a default in 'mitigations'");
		if (merges_key_by_key(key->val) && v->kind != NODE_MAP)
			return loader_fail(L, v->pos, "'%s' must be a mapping, not %s", key->val,
					   loader_kind_name(v));
		if (!strcmp(key->val, "replicate") && check_replicate_value(L, v, &b))
			return -1;
	}
	return 0;
}


/*
 * base's pairs that `over` lacks, then over's pairs; with `deep`, params and
 * resources present in both are merged the same way (one level: a param's
 * value is replaced whole). The result has over's position; its kids are the
 * original nodes.
 */
static const struct node *merge(struct loader *L, const struct node *base,
				const struct node *over, int deep)
{
	size_t n = over->nr, i, j = 0;
	struct node *m;

	if (!base || !base->nr)
		return over;
	for (i = 0; i < base->nr; i += 2)
		if (!map_key(over, base->kids[i]->val))
			n += 2;
	m = loader_new_node(L, NODE_MAP, n, over->pos, over->end);
	for (i = 0; i < base->nr; i += 2)
		if (!map_key(over, base->kids[i]->val)) {
			m->kids[j++] = base->kids[i];
			m->kids[j++] = base->kids[i + 1];
		}
	for (i = 0; i < over->nr; i += 2) {
		struct node *k = over->kids[i], *v = over->kids[i + 1];
		const struct node *b = map_get(base, k->val);

		m->kids[j++] = k;
		if (deep && b && merges_key_by_key(k->val) && b->kind == NODE_MAP &&
		    v->kind == NODE_MAP)
			m->kids[j++] = (struct node *)merge(L, b, v, 0);
		else
			m->kids[j++] = v;
	}
	return m;
}

/* ---- matrices -------------------------------------------------------------------- */

static int valid_axis_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n > 64 || !(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* Checks matrix mx (the value of key mxk in entry k); *combos = its size. */
static int check_matrix(struct loader *L, const struct node *k, const struct node *mxk,
			const struct node *mx, size_t *combos)
{
	double n = 1;
	size_t a, i;

	if (mx->kind != NODE_MAP)
		return loader_fail(L, mx->pos, "'matrix' must be a mapping, not %s",
				   loader_kind_name(mx));
	if (!mx->nr)
		return loader_fail(L, mx->pos, "'matrix' must not be empty");
	for (a = 0; a < mx->nr; a += 2) {
		const struct node *ak = mx->kids[a], *av = mx->kids[a + 1];

		if (!valid_axis_name(ak->val))
			return loader_fail(L, ak->pos,
					   "invalid matrix axis name '%s' (use [a-z][a-z0-9_]*, at "
					   "most 64 characters)", ak->val);
		if (av->kind != NODE_SEQ)
			return loader_fail(L, av->pos, "matrix axis '%s' must be a sequence, not %s",
					   ak->val, loader_kind_name(av));
		if (!av->nr)
			return loader_fail(L, av->pos, "matrix axis '%s' must not be empty",
					   ak->val);
		for (i = 0; i < av->nr; i++)
			if (av->kids[i]->kind != NODE_SCALAR)
				return loader_fail(L, av->kids[i]->pos,
						   "matrix values must be scalars, not %s",
						   loader_kind_name(av->kids[i]));
		n *= (double)av->nr;
	}
	if (n > MAX_ENTRIES)
		return loader_fail(L, mxk->pos,
				   "the matrix of '%s' makes %.0f entries, more than the limit of %d",
				   k->val, n, MAX_ENTRIES);
	*combos = (size_t)n;
	return 0;
}

static size_t matrix_size(const struct node *mx)
{
	size_t n = 1, a;

	for (a = 0; a < mx->nr; a += 2)
		n *= mx->kids[a + 1]->nr;
	return n;
}

/* The value of axis a (0-based) in combination `combo`; the last axis varies fastest. */
static const struct node *axis_value(const struct node *mx, size_t a, size_t combo)
{
	size_t stride = 1, b, axes = mx->nr / 2;
	const struct node *vals = mx->kids[2 * a + 1];

	for (b = a + 1; b < axes; b++)
		stride *= mx->kids[2 * b + 1]->nr;
	return vals->kids[(combo / stride) % vals->nr];
}

/* "layers=2, dim=32" */
static void describe_combo(const struct node *mx, size_t combo, struct strbuf *out)
{
	size_t a;

	for (a = 0; a < mx->nr / 2; a++)
		strbuf_addf(out, "%s%s=%s", a ? ", " : "", mx->kids[2 * a]->val,
			    axis_value(mx, a, combo)->val);
}

/* Axis `axis` (len bytes) of mx, by index; -1 when there is none. */
static long find_axis(const struct node *mx, const char *axis, size_t len)
{
	size_t a;

	for (a = 0; a < mx->nr; a += 2)
		if (strlen(mx->kids[a]->val) == len && !memcmp(mx->kids[a]->val, axis, len))
			return (long)(a / 2);
	return -1;
}

/* 1 when name (len bytes, the text inside "${...}") is "matrix.AXIS" or "vars.X". */
static int is_bound_name(const char *name, size_t len)
{
	return (len > 7 && !memcmp(name, "matrix.", 7)) || (len > 5 && !memcmp(name, "vars.", 5));
}

/* The value bound to ${NAME} (NAME = matrix.AXIS or vars.X, len bytes) at
 * index `at` of n, or NULL after an error. */
static const struct node *bound_value(struct loader *L, const struct node *n, size_t at,
				      const char *name, size_t len)
{
	struct expand *X = loader_expand(L);
	const char *axis = name + 7;
	long a;

	if (name[0] == 'v') { /* vars.X */
		const char *key = name + 5;
		size_t klen = len - 5, i;

		for (i = 0; X->vars && i < X->vars->nr; i += 2)
			if (X->vars->kids[i]->len == klen && !memcmp(X->vars->kids[i]->val, key, klen))
				return X->vars->kids[i + 1];
		loader_fail(L, loader_dollar_pos(L, n, at), "unknown var '%.*s' in '${vars.%.*s}'",
			    (int)klen, key, (int)klen, key);
		return NULL;
	}
	len -= 7;
	if (!X->mx) {
		loader_fail(L, loader_dollar_pos(L, n, at),
			    "'${matrix.%.*s}' is used, but entry '%s' has no 'matrix'", (int)len, axis,
			    X->name ? X->name : "?");
		return NULL;
	}
	a = find_axis(X->mx, axis, len);
	if (a < 0) {
		loader_fail(L, loader_dollar_pos(L, n, at),
			    "unknown matrix axis '%.*s' in '${matrix.%.*s}'", (int)len, axis, (int)len,
			    axis);
		return NULL;
	}
	return axis_value(X->mx, (size_t)a, X->combo);
}

/* A name a matrix makes: a valid entry name, or one with '.' inside (the
 * text of a number, lr0.001), never "..". */
static int valid_made_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n > 64)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (i > 0 && (c == '-' || c == '_' || (c == '.' && s[i - 1] != '.')))
			continue;
		return 0;
	}
	return 1;
}

static int name_chars_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_' || *s == '.'))
			return 0;
	return 1;
}

/* The name of combination `combo`: from template tpl, else NAME-AXISVALUE-... */
static int make_name(struct loader *L, const struct node *k, const struct node *mx,
		     const struct node *tpl, size_t combo, struct strbuf *out)
{
	size_t a, i = 0;

	if (!tpl) {
		strbuf_addstr(out, k->val);
		for (a = 0; a < mx->nr / 2; a++)
			strbuf_addf(out, "-%s%s", mx->kids[2 * a]->val, axis_value(mx, a, combo)->val);
		return 0;
	}
	while (i < tpl->len) {
		const char *v = tpl->val, *close;

		if (v[i] != '$' || i + 1 >= tpl->len || (v[i + 1] != '{' && v[i + 1] != '$')) {
			strbuf_addch(out, v[i++]);
			continue;
		}
		if (v[i + 1] == '$') {
			strbuf_addch(out, '$');
			i += 2;
			continue;
		}
		close = memchr(v + i + 2, '}', tpl->len - i - 2);
		if (!close)
			return loader_fail(L, loader_dollar_pos(L, tpl, i), "unterminated '${'");
		if (close - (v + i + 2) > 7 && !memcmp(v + i + 2, "matrix.", 7)) {
			const char *axis = v + i + 9;
			size_t len = (size_t)(close - axis);
			long ax = find_axis(mx, axis, len);

			if (ax < 0)
				return loader_fail(L, loader_dollar_pos(L, tpl, i),
						   "unknown matrix axis '%.*s' in '${matrix.%.*s}'",
						   (int)len, axis, (int)len, axis);
			strbuf_addstr(out, axis_value(mx, (size_t)ax, combo)->val);
		} else {
			return loader_fail(L, loader_dollar_pos(L, tpl, i),
					   "only '${matrix.AXIS}' can be used in 'name', not '${%.*s}'",
					   (int)(close - (v + i + 2)), v + i + 2);
		}
		i = (size_t)(close - v) + 1;
	}
	return 0;
}

/* Where a bad made name is best shown: the template, or the first value
 * with a character no name may hold, or the matrix. */
static struct srcpos bad_name_pos(const struct node *mxk, const struct node *mx,
				  const struct node *tpl, size_t combo)
{
	size_t a;

	if (tpl)
		return tpl->pos;
	for (a = 0; a < mx->nr / 2; a++)
		if (!name_chars_ok(axis_value(mx, a, combo)->val))
			return axis_value(mx, a, combo)->pos;
	return mxk->pos;
}

static void note_made(struct expand *X, struct srcpos pos, const char *matrix)
{
	XGROW(X->made, X->made_alloc, X->made_nr + 1);
	X->made[X->made_nr].pos = pos;
	X->made[X->made_nr].matrix = matrix;
	X->made_nr++;
}

int expand_section_count(struct loader *L, enum section sec, const struct node *n,
			 size_t *count)
{
	struct expand *X = loader_expand(L);
	size_t i, c;

	if ((unsigned)sec >= MAX_SECTIONS)
		return loader_fail(L, n->pos, "internal error: section %d", (int)sec);
	X->made_nr = 0;
	X->sec[sec] = X->top;
	*count = 0;
	for (i = 0; i < n->nr; i += 2) {
		const struct node *k = n->kids[i], *v = n->kids[i + 1], *mx;

		if (expand_is_defaults(k)) {
			if (check_defaults(L, v, sec))
				return -1;
			X->sec[sec] = X->top ? merge(L, X->top, v, 1) : v;
			continue;
		}
		c = 1;
		mx = v->kind == NODE_MAP ? map_get(v, "matrix") : NULL;
		if (mx && check_matrix(L, k, map_key(v, "matrix"), mx, &c))
			return -1;
		*count += c;
		if (*count > MAX_ENTRIES)
			return loader_fail(L, k->pos,
					   "section '%s' makes more than %d entries",
					   loader_section_name(sec), MAX_ENTRIES);
	}
	return 0;
}

long expand_matrix_entries(struct loader *L, enum section sec, const struct node *k,
			   const struct node *v, struct entry *arr, size_t *nr)
{
	struct expand *X = loader_expand(L);
	const struct node *mxk = map_key(v, "matrix"), *mx = map_get(v, "matrix");
	const struct node *tplk = map_key(v, "name"), *tpl = map_get(v, "name");
	struct strbuf name = STRBUF_INIT, what = STRBUF_INIT;
	size_t c, combos;

	if (!mx) {
		if (tplk)
			return loader_fail(L, tplk->pos,
					   "'name' needs a 'matrix' (it names the entries a matrix makes)");
		note_made(X, k->pos, NULL);
		return 0;
	}
	if (tpl && tpl->kind != NODE_SCALAR)
		return loader_fail(L, tpl->pos, "'name' must be a scalar, not %s",
				   loader_kind_name(tpl));
	combos = matrix_size(mx);
	for (c = 0; c < combos; c++) {
		struct entry *e = &arr[*nr];

		strbuf_reset(&name);
		if (make_name(L, k, mx, tpl, c, &name))
			goto fail;
		if (!valid_made_name(name.buf) ||
		    ((sec == SEC_METHODS || sec == SEC_MITIGATIONS) && !strcmp(name.buf, "base"))) {
			strbuf_reset(&what);
			describe_combo(mx, c, &what);
			if (valid_made_name(name.buf))
				loader_fail(L, bad_name_pos(mxk, mx, tpl, c),
					    "'base' is reserved and cannot name a %s (made for %s)",
					    sec == SEC_METHODS ? "method" : "mitigation", what.buf);
			else
				loader_fail(L, bad_name_pos(mxk, mx, tpl, c),
					    "the matrix of '%s' makes the name '%s' for %s, which is "
					    "not a valid name (use [a-z0-9][a-z0-9_.-]*, no '..', at "
					    "most 64 characters)%s", k->val, name.buf, what.buf,
					    tpl ? "" : "; give the entry a 'name:' template");
			goto fail;
		}
		e->name = loader_st_strdup(L, name.buf);
		e->section = sec;
		e->pos = k->pos;
		(*nr)++;
		note_made(X, tpl ? tpl->pos : mxk->pos, k->val);
	}
	strbuf_release(&name);
	strbuf_release(&what);
	return (long)combos;
fail:
	strbuf_release(&name);
	strbuf_release(&what);
	return -1;
}

static const struct entry *sort_arr;

static int cmp_idx(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(sort_arr[x].name, sort_arr[y].name);

	return c ? c : (x < y ? -1 : x > y);
}

int expand_check_names(struct loader *L, enum section sec, const struct entry *arr, size_t nr)
{
	struct expand *X = loader_expand(L);
	size_t *idx, i, best = SIZE_MAX, first = 0;
	int any = 0;

	for (i = 0; i < X->made_nr; i++)
		any |= X->made[i].matrix != NULL;
	if (!any || X->made_nr != nr)
		return 0; /* plain keys: the YAML duplicate-key check covered them */
	idx = xmalloc((nr ? nr : 1) * sizeof(*idx));
	for (i = 0; i < nr; i++)
		idx[i] = i;
	sort_arr = arr;
	qsort(idx, nr, sizeof(*idx), cmp_idx);
	sort_arr = NULL;
	for (i = 1; i < nr; i++)
		if (!strcmp(arr[idx[i - 1]].name, arr[idx[i]].name) && idx[i] < best) {
			best = idx[i];
			first = idx[i - 1];
		}
	free(idx);
	if (best == SIZE_MAX)
		return 0;
	{
		const char *by = X->made[best].matrix ? X->made[best].matrix : X->made[first].matrix;

		return loader_fail(L, X->made[best].pos,
				   "duplicate name '%s' in '%s' (made by the matrix of '%s')",
				   arr[best].name, loader_section_name(sec), by);
	}
}

size_t expand_entry_count(const struct node *v)
{
	const struct node *mx = v->kind == NODE_MAP ? map_get(v, "matrix") : NULL;

	return mx ? matrix_size(mx) : 1;
}

const struct node *expand_begin_entry(struct loader *L, enum section sec, const struct node *k,
				      const struct node *v, size_t combo, const char *name)
{
	struct expand *X = loader_expand(L);
	const struct node *d = sec == SEC_REPORT || (unsigned)sec >= MAX_SECTIONS ? X->top
										 : X->sec[sec];

	X->key = k;
	X->val = v;
	X->cur_sec = sec;
	X->combo = combo;
	X->name = name;
	X->mx = sec != SEC_REPORT ? map_get(v, "matrix") : NULL;
	if (d && v->kind == NODE_MAP)
		v = merge(L, d, v, 1);
	X->vars = map_get(v, "vars"); /* checked by expand_entry_key before any use */
	return v;
}

void expand_end_entry(struct loader *L)
{
	struct expand *X = loader_expand(L);

	X->key = X->val = X->mx = X->vars = NULL;
	X->name = NULL;
}

int expand_entry_key(struct loader *L, struct entry *e, const struct node *k,
		     const struct node *v)
{
	struct expand *X = loader_expand(L);
	int value;

	if (!strcmp(k->val, "matrix") || !strcmp(k->val, "name"))
		return X->cur_sec == SEC_REPORT ? 0 : 1; /* made the entries (names pass) */
	if (!strcmp(k->val, "vars"))
		return check_vars(L, v) ? -1 : 1;
	if (strcmp(k->val, "replicate"))
		return 0;
	if (check_replicate_value(L, v, &value))
		return -1;
	if (X->cur_sec == SEC_REPORT && value)
		return loader_fail(L, v->pos,
				   "the report runs once; it receives the evaluations of every seed");
	e->once = !value;
	e->once_pos = v->pos;
	return 1;
}

int expand_bound_var(struct loader *L, const struct node *n, size_t at, const char *name,
		     size_t len, const char **text)
{
	const struct node *v;

	if (!is_bound_name(name, len))
		return 0;
	v = bound_value(L, n, at, name, len);

	if (!v)
		return -1;
	*text = v->val;
	return 1;
}

/* The next "${matrix." or "${vars." in s, or NULL. */
static const char *next_bound(const char *s)
{
	for (s = strstr(s, "${"); s; s = strstr(s + 1, "${"))
		if (!strncmp(s + 2, "matrix.", 7) || !strncmp(s + 2, "vars.", 5))
			return s;
	return NULL;
}

cJSON *expand_param_scalar(struct loader *L, const struct node *n)
{
	const char *s = n->val, *p, *close;
	struct strbuf sb = STRBUF_INIT;
	const struct node *v;
	cJSON *j;

	p = next_bound(s);
	if (!p)
		return loader_scalar_json(L, n);
	close = strchr(p, '}');
	if (p == s && close && !close[1]) { /* the whole value: the bound value, typed */
		v = bound_value(L, n, 0, s + 2, (size_t)(close - s - 2));
		return v ? loader_scalar_json(L, v) : NULL;
	}
	while (p) {
		strbuf_add(&sb, s, (size_t)(p - s));
		close = strchr(p, '}');
		if (!close) {
			loader_fail(L, loader_dollar_pos(L, n, (size_t)(p - n->val)), "unterminated '${'");
			goto fail;
		}
		v = bound_value(L, n, (size_t)(p - n->val), p + 2, (size_t)(close - p - 2));
		if (!v)
			goto fail;
		strbuf_addstr(&sb, v->val);
		s = close + 1;
		p = next_bound(s);
	}
	strbuf_addstr(&sb, s);
	j = cJSON_CreateString(sb.buf);
	strbuf_release(&sb);
	if (!j)
		loader_fail(L, n->pos, "out of memory");
	return j;
fail:
	strbuf_release(&sb);
	return NULL;
}

void expand_note(struct loader *L, struct srcpos p, struct strbuf *msg)
{
	struct expand *X = loader_expand(L);

	if (!X || !X->key || !X->name)
		return;
	if (!pos_before(p, X->key->pos) && pos_before(p, X->val->end))
		return; /* inside the entry itself */
	if (X->cur_sec == SEC_REPORT)
		strbuf_addstr(msg, " (a default, for the report)");
	else
		strbuf_addf(msg, " (a default, for %s entry '%s')", loader_section_name(X->cur_sec),
			    X->name);
}

/* ---- seeds ------------------------------------------------------------------------ */

static unsigned long long *sort_vals;

static int cmp_seed_idx(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	if (sort_vals[x] != sort_vals[y])
		return sort_vals[x] < sort_vals[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int load_seeds(struct loader *L, const struct node *v)
{
	struct study *st = loader_study(L);
	unsigned long long *vals;
	size_t i, *idx, best = SIZE_MAX;

	if (v->kind != NODE_SEQ)
		return loader_fail(L, v->pos, "'seeds' must be a sequence of non-negative integers, "
				   "not %s", loader_kind_name(v));
	if (!v->nr)
		return loader_fail(L, v->pos, "'seeds' must not be empty");
	vals = xmalloc(v->nr * sizeof(*vals));
	for (i = 0; i < v->nr; i++) {
		const struct node *s = v->kids[i];

		if (s->kind != NODE_SCALAR || loader_parse_uint(s->val, LLONG_MAX, &vals[i])) {
			free(vals);
			return loader_fail(L, s->pos,
					   "'seeds' items must be non-negative integers (at most %lld)",
					   LLONG_MAX);
		}
	}
	idx = xmalloc(v->nr * sizeof(*idx));
	for (i = 0; i < v->nr; i++)
		idx[i] = i;
	sort_vals = vals;
	qsort(idx, v->nr, sizeof(*idx), cmp_seed_idx);
	sort_vals = NULL;
	for (i = 1; i < v->nr; i++)
		if (vals[idx[i]] == vals[idx[i - 1]] && idx[i] < best)
			best = idx[i];
	free(idx);
	if (best != SIZE_MAX) {
		int rc = loader_fail(L, v->kids[best]->pos, "duplicate seed %llu in 'seeds'",
				     vals[best]);

		free(vals);
		return rc;
	}
	st->seeds = loader_st_alloc(L, v->nr * sizeof(*st->seeds));
	for (i = 0; i < v->nr; i++) {
		char buf[32];

		snprintf(buf, sizeof(buf), "%llu", vals[i]);
		st->seeds[i] = loader_st_strdup(L, buf);
	}
	st->seeds_nr = v->nr;
	free(vals);
	return 0;
}

int expand_top_key(struct loader *L, const struct node *k, const struct node *v)
{
	struct expand *X = loader_expand(L);

	if (!strcmp(k->val, "defaults")) {
		if (check_defaults(L, v, SEC_REPORT))
			return -1;
		X->top = v;
		return 1;
	}
	if (!strcmp(k->val, "seeds"))
		return load_seeds(L, v) ? -1 : 1;
	return 0;
}

/* An entry that runs once (`replicate: false`) must take nothing from a
 * stage that runs once per seed: it could not tell which seed's output. */
static int uses_replicated(struct loader *L, const struct entry *e, const char *what,
			   const struct entry *arr, size_t nr, const char *section)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (!arr[i].once)
			return loader_fail(L, e->once_pos,
					   "%s entry '%s' runs once ('replicate: false') but %s %s "
					   "entry '%s', which runs once per seed",
					   loader_section_name(e->section), e->name, what, section,
					   arr[i].name);
	return 0;
}

static int check_data_refs(struct loader *L, const struct entry *e)
{
	const struct study *st = loader_study(L);
	size_t i;

	for (i = 0; i < e->data_refs_nr; i++) {
		const struct entry *d = &st->data[e->data_refs[i]];

		if (d->once)
			continue;
		if (e->section == SEC_REPORT)
			return loader_fail(L, e->pos,
					   "the report uses data entry '%s', which runs once per "
					   "seed; give that entry 'replicate: false'", d->name);
		return loader_fail(L, e->once_pos,
				   "%s entry '%s' runs once ('replicate: false') but uses data "
				   "entry '%s', which runs once per seed",
				   loader_section_name(e->section), e->name, d->name);
	}
	return 0;
}

int expand_check_replicas(struct loader *L)
{
	const struct study *st = loader_study(L);
	const struct entry *secs[] = { st->data, st->models, st->methods, st->mitigations,
				       st->evaluations };
	const size_t nrs[] = { st->data_nr, st->models_nr, st->methods_nr, st->mitigations_nr,
			       st->evaluations_nr };
	size_t s, i, a;

	if (!st->seeds_nr)
		return 0;
	for (s = 0; s < 5; s++)
		for (i = 0; i < nrs[s]; i++) {
			const struct entry *e = &secs[s][i];

			if (!e->once)
				continue;
			if (check_data_refs(L, e))
				return -1;
			if (s >= SEC_METHODS &&
			    uses_replicated(L, e, "applies to", st->models, st->models_nr, "models"))
				return -1;
			if (s == SEC_MITIGATIONS)
				for (a = 0; a < e->after_nr; a++)
					for (size_t x = 0; x < st->methods_nr; x++)
						if (!strcmp(st->methods[x].name, e->after[a].s) &&
						    uses_replicated(L, e, "follows",
								    &st->methods[x], 1, "methods"))
							return -1;
			if (s == SEC_EVALUATIONS &&
			    (uses_replicated(L, e, "applies to", st->methods, st->methods_nr,
					     "methods") ||
			     uses_replicated(L, e, "applies to", st->mitigations,
					     st->mitigations_nr, "mitigations")))
				return -1;
		}
	return st->report ? check_data_refs(L, st->report) : 0;
}

/* ---- counting --------------------------------------------------------------------- */

static double copies(const struct study *st, const struct entry *e)
{
	return st->seeds_nr && !e->once ? (double)st->seeds_nr : 1.0;
}

static double sum_copies(const struct study *st, const struct entry *arr, size_t nr)
{
	double n = 0;
	size_t i;

	for (i = 0; i < nr; i++)
		n += copies(st, &arr[i]);
	return n;
}

double expand_stage_count(const struct study *st)
{
	double variants = 1.0 + (double)st->methods_nr, mitigation_stages = 0;
	size_t i;

	for (i = 0; i < st->mitigations_nr; i++) {
		variants += (double)st->mitigations[i].after_nr;
		mitigation_stages += (double)st->mitigations[i].after_nr *
				     copies(st, &st->mitigations[i]);
	}
	/* per model: its stage (copies counted below), every method, mitigation
	 * and evaluation stage; entries decide their own copies (a valid study
	 * never has a replicated input under an entry that runs once) */
	return sum_copies(st, st->data, st->data_nr) + (st->report ? 1.0 : 0.0) +
	       sum_copies(st, st->models, st->models_nr) +
	       (double)st->models_nr *
		       (sum_copies(st, st->methods, st->methods_nr) + mitigation_stages +
			variants * sum_copies(st, st->evaluations, st->evaluations_nr));
}
