/* vocab: word list + hash lookup, encode/decode (see vocab.h). */
#include "vocab.h"

#include <stdlib.h>
#include <string.h>

static const char *const specials[TOK_NSPECIAL] = {"<pad>", "<user>", "<assistant>", "<end>",
						   "<unk>", "<eoi>"};

static uint32_t hash_word(const char *w, int len)
{
	return (uint32_t)tl_fnv1a64(TL_FNV_INIT, w, (size_t)len);
}

int vocab_find(const struct vocab *v, const char *w, int len)
{
	if (!v->tcap)
		return -1;
	uint32_t h = hash_word(w, len) & (uint32_t)(v->tcap - 1);
	while (v->table[h]) {
		int id = v->table[h] - 1;
		if ((int)strlen(v->words[id]) == len && !memcmp(v->words[id], w, (size_t)len))
			return id;
		h = (h + 1) & (uint32_t)(v->tcap - 1);
	}
	return -1;
}

int vocab_parse(struct vocab *v, const char *text, struct tl_err *e)
{
	memset(v, 0, sizeof *v);
	v->digest = tl_fnv1a64(TL_FNV_INIT, text, strlen(text));
	int lines = 0;
	for (const char *s = text; *s; s++)
		lines += *s == '\n';
	v->words = calloc((size_t)lines + 1, sizeof(char *));
	v->tcap = 16;
	while (v->tcap < 2 * (lines + 1))
		v->tcap *= 2;
	v->table = calloc((size_t)v->tcap, sizeof(int));
	if (!v->words || !v->table) {
		vocab_release(v);
		return tl_fail(e, "out of memory");
	}
	const char *s = text;
	int lineno = 0;
	while (*s) {
		const char *nl = strchr(s, '\n');
		if (!nl) {
			vocab_release(v);
			return tl_fail(e, "vocabulary line %d not terminated by a newline", lineno + 1);
		}
		int len = (int)(nl - s);
		lineno++;
		if (len == 0 || len > 64 || memchr(s, ' ', (size_t)len)) {
			vocab_release(v);
			return tl_fail(e, "vocabulary line %d: bad word", lineno);
		}
		if (vocab_find(v, s, len) >= 0) {
			vocab_release(v);
			return tl_fail(e, "vocabulary line %d: duplicate word '%.*s'", lineno, len, s);
		}
		char *w = malloc((size_t)len + 1);
		if (!w) {
			vocab_release(v);
			return tl_fail(e, "out of memory");
		}
		memcpy(w, s, (size_t)len);
		w[len] = 0;
		v->words[v->n] = w;
		uint32_t h = hash_word(w, len) & (uint32_t)(v->tcap - 1);
		while (v->table[h])
			h = (h + 1) & (uint32_t)(v->tcap - 1);
		v->table[h] = v->n + 1;
		v->n++;
		s = nl + 1;
	}
	if (v->n < TOK_NSPECIAL + 1) {
		vocab_release(v);
		return tl_fail(e, "vocabulary too small (%d words)", lineno);
	}
	for (int i = 0; i < TOK_NSPECIAL; i++)
		if (strcmp(v->words[i], specials[i])) {
			int bad = i;
			vocab_release(v);
			return tl_fail(e, "vocabulary line %d must be '%s'", bad + 1, specials[bad]);
		}
	return 0;
}

int vocab_load(struct vocab *v, const char *path, struct tl_err *e)
{
	char *text = tl_read_file(path, NULL, e);
	if (!text)
		return -1;
	int rc = vocab_parse(v, text, e);
	free(text);
	if (rc) {
		struct tl_err e2;
		tl_fail(&e2, "'%s': %s", path, e ? e->msg : "invalid");
		if (e)
			*e = e2;
	}
	return rc;
}

void vocab_release(struct vocab *v)
{
	if (v->words)
		for (int i = 0; i < v->n; i++)
			free(v->words[i]);
	free(v->words);
	free(v->table);
	memset(v, 0, sizeof *v);
}

int vocab_encode(const struct vocab *v, const char *text, int *out, int cap)
{
	int n = 0;
	const char *s = text;
	while (*s) {
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		const char *w = s;
		while (*s && *s != ' ')
			s++;
		int id = vocab_find(v, w, (int)(s - w));
		if (n < cap)
			out[n] = id < 0 ? TOK_UNK : id;
		n++;
	}
	return n;
}

void vocab_decode(const struct vocab *v, const int *ids, int n, struct sbuf *out)
{
	for (int i = 0; i < n; i++) {
		if (i)
			sb_adds(out, " ");
		sb_adds(out, ids[i] >= 0 && ids[i] < v->n ? v->words[ids[i]] : "<unk>");
	}
}

void vocab_serialize(const struct vocab *v, struct sbuf *out)
{
	for (int i = 0; i < v->n; i++) {
		sb_adds(out, v->words[i]);
		sb_adds(out, "\n");
	}
}
