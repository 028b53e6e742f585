/*
 * strmap: string-keyed open-addressing hash table (FNV-1a, linear probing).
 * See strmap.h.
 */
#include "strmap.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static struct strmap_slot *find(const struct strmap *m, const char *key)
{
	size_t mask = m->cap - 1;
	for (size_t i = fnv1a(key) & mask;; i = (i + 1) & mask)
		if (!m->slots[i].key || !strcmp(m->slots[i].key, key))
			return &m->slots[i];
}

void *strmap_get(const struct strmap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	struct strmap_slot *s = find(m, key);
	return s->key ? s->value : NULL;
}

static void grow(struct strmap *m)
{
	struct strmap old = *m;
	m->cap = old.cap ? old.cap * 2 : 16;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	m->nr = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].key) {
			struct strmap_slot *s = find(m, old.slots[i].key);
			*s = old.slots[i];
			m->nr++;
		}
	free(old.slots);
}

void *strmap_put(struct strmap *m, const char *key, void *value)
{
	if ((m->nr + 1) * 4 > m->cap * 3)
		grow(m);
	struct strmap_slot *s = find(m, key);
	if (s->key) {
		void *prev = s->value;
		s->value = value;
		return prev;
	}
	s->key = xstrdup(key);
	s->value = value;
	m->nr++;
	return NULL;
}

void strmap_clear(struct strmap *m, void (*free_value)(void *))
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key) {
			free(m->slots[i].key);
			if (free_value)
				free_value(m->slots[i].value);
		}
	free(m->slots);
	m->slots = NULL;
	m->cap = m->nr = 0;
}
