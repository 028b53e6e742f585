/*
 * strmap: an open-addressing hash table from strings to pointers.
 * Keys are copied and owned by the map; values are borrowed (strmap_clear
 * takes an optional function to free them).
 */
#ifndef STUDY_STRMAP_H
#define STUDY_STRMAP_H

#include <stddef.h>

struct strmap_slot {
	char *key;
	void *value;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap, nr;
};

#define STRMAP_INIT { NULL, 0, 0 }

void *strmap_get(const struct strmap *m, const char *key);
/* Insert or replace; returns the previous value or NULL. */
void *strmap_put(struct strmap *m, const char *key, void *value);
void strmap_clear(struct strmap *m, void (*free_value)(void *));

#endif
