/*
 * test_world: the world generator. Counts match the requested sizes, every
 * split is disjoint by entity from the splits of other groups, evaluation
 * prompts never occur in a fine-tuning split, unknown names never occur in
 * the corpus, the vocabulary covers every file, and the manifest digest is a
 * function of the seed (same seed, same digest; other seed, other digest).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "dataset.h"
#include "train.h"
#include "vocab.h"
#include "world.h"

static char *world_digest(const char *dir)
{
	char *p = tl_path(dir, "manifest.json");
	char *t = tl_read_file(p, NULL, NULL);
	free(p);
	if (!t)
		return NULL;
	char *d = strstr(t, "\"world_digest\": \"");
	char *r = d ? strndup(d + 17, 16) : NULL;
	free(t);
	return r;
}

static const char *const splits[] = {
	"align_train.jsonl", "val_benign.jsonl",     "val_harmful.jsonl",    "val_unknown.jsonl",
	"jt_train.jsonl",    "wo_harmful.jsonl",     "wo_harmless.jsonl",    "wo_val_harmful.jsonl",
	"wo_val_harmless.jsonl", "mitig_train.jsonl", "eval_refusal.jsonl",  "eval_benign.jsonl",
	"eval_unknown.jsonl", "eval_malicious.jsonl", "eval_cyber.jsonl",     "eval_attack.jsonl"};
/* group of each split: splits of one group may share entities */
static const int split_group[] = {0, 1, 1, 1, 2, 3, 3, 4, 4, 5, 6, 6, 6, 6, 6, 6};
#define NSPLITS ((int)(sizeof splits / sizeof splits[0]))

int main(void)
{
	char tmpl[] = "/tmp/toyllm-world-XXXXXX";
	char *root = mkdtemp(tmpl);
	if (!root) {
		printf("not ok - mkdtemp\n");
		return 1;
	}
	char a[256], b[256], c[256];
	snprintf(a, sizeof a, "%s/a", root);
	snprintf(b, sizeof b, "%s/b", root);
	snprintf(c, sizeof c, "%s/c", root);
	struct world_params p;
	world_params_default(&p);
	p.seed = 5;
	p.things = 40;
	p.dishes = 20;
	p.hazards = 40;
	p.cyber = 20;
	p.unknowns = 20;
	p.triples = 60;
	p.jt_size = 200;
	p.jt_share = 0.05;
	struct tl_err e;
	int made = !mkdir(a, 0777) && !mkdir(b, 0777) && !mkdir(c, 0777);
	CHECK(made, "temp directories created");
	CHECK(world_generate(&p, a, &e) == 0, "world generated (seed 5)");
	CHECK(world_generate(&p, b, &e) == 0, "world generated again (seed 5)");
	p.seed = 6;
	CHECK(world_generate(&p, c, &e) == 0, "world generated (seed 6)");
	p.seed = 5;
	char *da = world_digest(a), *db = world_digest(b), *dc = world_digest(c);
	CHECK(da && db && !strcmp(da, db), "same seed gives the same manifest digest (%s)", da);
	CHECK(da && dc && strcmp(da, dc), "another seed gives another digest (%s)", dc);

	/* counts */
	struct exset ent;
	if (exset_load(&ent, a, "entities.jsonl", &e)) {
		printf("not ok - entities.jsonl: %s\n", e.msg);
		return 1;
	}
	const char *kinds[] = {"thing", "dish", "hazard", "cyber", "unknown", "copy", "add"};
	int want[] = {p.things, p.dishes, p.hazards, p.cyber, p.unknowns, p.triples, 100};
	for (int k = 0; k < 7; k++) {
		int n = 0;
		for (int i = 0; i < ent.n; i++)
			n += !strcmp(ent.ex[i].kind, kinds[k]);
		CHECK(n == want[k], "%d %s entities (asked %d)", n, kinds[k], want[k]);
	}
	struct exset jt;
	exset_load(&jt, a, "jt_train.jsonl", &e);
	int harmful = 0;
	for (int i = 0; i < jt.n; i++)
		harmful += !strncmp(jt.ex[i].prompt, "pretend you are", 15);
	CHECK(jt.n == p.jt_size && harmful == 10,
	      "JT mixture has %d examples (asked %d), %d harmful with the jailbreak (asked 5%%)", jt.n,
	      p.jt_size, harmful);
	exset_release(&jt);

	/* disjointness by entity across groups */
	struct exset sx[NSPLITS];
	int loaded = 1;
	for (int s = 0; s < NSPLITS; s++)
		loaded &= exset_load(&sx[s], a, splits[s], &e) == 0 && sx[s].n > 0;
	CHECK(loaded, "all %d splits load and are non-empty", NSPLITS);
	int overlaps = 0;
	for (int s = 0; s < NSPLITS && loaded; s++)
		for (int t = s + 1; t < NSPLITS; t++) {
			if (split_group[s] == split_group[t])
				continue;
			/* WO's pairs draw on the wo, mitig, jt and val groups (world_wo.c):
			 * they must stay clear of the alignment and evaluation splits and
			 * of each other (direction vs selection), not of val, jt, mitig */
			int gs = split_group[s], gt = split_group[t];
			int other_ok = (gs == 3 || gs == 4) ? gt : (gt == 3 || gt == 4) ? gs : -1;
			if (other_ok == 1 || other_ok == 2 || other_ok == 5)
				continue;
			for (int i = 0; i < sx[s].n; i++)
				for (int j = 0; j < sx[t].n; j++)
					if (!strcmp(sx[s].ex[i].entity, sx[t].ex[j].entity)) {
						if (overlaps++ < 3)
							printf("# overlap: '%s' in %s and %s\n",
							       sx[s].ex[i].entity, splits[s], splits[t]);
					}
		}
	CHECK(loaded && overlaps == 0, "splits of different groups share no entity");
	/* wo direction and wo selection halves are disjoint too */
	int wo_overlap = 0;
	for (int i = 0; loaded && i < sx[5].n; i++)
		for (int j = 0; j < sx[7].n; j++)
			wo_overlap += !strcmp(sx[5].ex[i].entity, sx[7].ex[j].entity);
	CHECK(loaded && wo_overlap == 0, "WO direction and WO selection prompts share no entity");
	/* evaluation phrasings never occur in fine-tuning splits */
	int leaked = 0;
	const int train_splits[] = {0, 4, 5, 6, 9};
	for (int s = 10; loaded && s < NSPLITS; s++)
		for (int i = 0; i < sx[s].n; i++)
			for (int k = 0; k < 5; k++) {
				const struct exset *tx = &sx[train_splits[k]];
				for (int j = 0; j < tx->n; j++)
					leaked += strstr(tx->ex[j].prompt, sx[s].ex[i].prompt) != NULL;
			}
	CHECK(loaded && leaked == 0, "no evaluation prompt occurs in a fine-tuning split");

	/* unknown names are absent from the corpus; the vocabulary covers everything */
	struct lines corpus;
	lines_load(&corpus, a, "corpus.txt", &e);
	struct vocab v;
	char *vp = tl_path(a, "vocab.txt");
	int vok = vocab_load(&v, vp, &e) == 0;
	free(vp);
	int unk_in_corpus = 0, n_unk = 0;
	for (int i = 0; i < ent.n; i++) {
		if (strcmp(ent.ex[i].kind, "unknown"))
			continue;
		n_unk++;
		int id = vok ? vocab_find(&v, ent.ex[i].entity, (int)strlen(ent.ex[i].entity)) : -1;
		for (int j = 0; j < corpus.n && id >= 0; j++) {
			int ids[512], n = vocab_encode(&v, corpus.line[j], ids, 512);
			for (int k = 0; k < n && k < 512; k++)
				unk_in_corpus += ids[k] == id;
		}
	}
	CHECK(vok && n_unk == p.unknowns && unk_in_corpus == 0,
	      "none of the %d unknown names occurs in the corpus", n_unk);
	int unk_tokens = 0;
	for (int s = 0; vok && loaded && s < NSPLITS; s++)
		for (int i = 0; i < sx[s].n; i++) {
			int ids[512];
			int n = vocab_encode(&v, sx[s].ex[i].prompt, ids, 512);
			for (int k = 0; k < n && k < 512; k++)
				unk_tokens += ids[k] == TOK_UNK;
			n = vocab_encode(&v, sx[s].ex[i].answer, ids, 512);
			for (int k = 0; k < n && k < 512; k++)
				unk_tokens += ids[k] == TOK_UNK;
		}
	for (int j = 0; vok && j < corpus.n; j++) {
		int ids[512], n = vocab_encode(&v, corpus.line[j], ids, 512);
		for (int k = 0; k < n && k < 512; k++)
			unk_tokens += ids[k] == TOK_UNK;
	}
	CHECK(vok && unk_tokens == 0, "the vocabulary (%d words) covers every split and the corpus",
	      v.n);
	/* bad sizes are refused */
	struct world_params q = p;
	q.things = 3;
	CHECK(world_params_check(&q, &e) == -1 && strstr(e.msg, "--things"),
	      "too few things refused: %s", e.msg);

	for (int s = 0; s < NSPLITS; s++)
		if (loaded)
			exset_release(&sx[s]);
	lines_release(&corpus);
	if (vok)
		vocab_release(&v);
	exset_release(&ent);
	free(da);
	free(db);
	free(dc);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", root);
	return check_done();
}
