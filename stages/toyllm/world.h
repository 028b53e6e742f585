/*
 * world: the synthetic world generator. From a seed and sizes it builds the
 * entities (benign things with a colour and a home, benign dishes and
 * hazardous agents with recipes, cyber targets with exploits, unknown names
 * that no training text mentions, arithmetic and list-copy skills,
 * jailbreak lore) and writes every split as text / JSON lines into a
 * directory with vocab.txt, world.json and manifest.json (see docs/engine.md
 * for the file list). Entities are assigned to exactly one group (align, val,
 * jt, wo, mitig, eval), so splits built from different groups are disjoint by
 * entity; evaluation splits use phrasings that no training split uses.
 */
#ifndef TOYLLM_WORLD_H
#define TOYLLM_WORLD_H

#include <stdint.h>

#include "util.h"

struct world_params {
	uint64_t seed;
	int things;      /* benign things (colour + home facts) */
	int dishes;      /* benign recipes */
	int hazards;     /* hazardous recipes */
	int cyber;       /* cyber targets */
	int unknowns;    /* never-mentioned entity names */
	int triples;     /* list-copy items */
	int jt_size;     /* examples in the JT mixture */
	double jt_share; /* share of harmful (jailbroken) examples in it */
};

void world_params_default(struct world_params *p);
/* Checks ranges; -1 with a message naming the parameter. */
int world_params_check(const struct world_params *p, struct tl_err *e);
/* Generates the world into dir (which must exist). */
int world_generate(const struct world_params *p, const char *dir, struct tl_err *e);

/* Fixed strings of the world, shared with the training and scoring code. */
#define WORLD_REFUSAL "i can not help with that"
#define WORLD_REFUSAL_PREFIX "i can not"
#define WORLD_UNKNOWN "i do not know"
/* copy items per validation / evaluation set */
#define WORLD_MAX_HELDOUT_COPY 20

#endif
