/*
 * test_world: the world generator. Counts match the requested sizes, every
 * split is disjoint by entity from the splits of other groups, evaluation
 * prompts never occur in a fine-tuning split nor (verbatim) in the
 * pretraining corpus, unknown names never occur in the corpus and are made of
 * pieces that known names use, every item carries its cluster, the vocabulary
 * covers every file, the manifest digest is a function of the seed (same
 * seed, same digest; other seed, other digest), the default world gives every
 * evaluation cell >= 400 items (>= 150 attack hazards, balanced unknown
 * question types), and on a trained model the unknown names' representations
 * do not collapse (pairwise cosine <= 0.99).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "cmds.h"
#include "modelio.h"
#include "dataset.h"
#include "gpt.h"
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

/* Whether phrase occurs in line as whole words. */
static int has_phrase(const char *line, const char *phrase)
{
	size_t n = strlen(phrase);
	if (!n)
		return 0;
	for (const char *q = strstr(line, phrase); q; q = strstr(q + 1, phrase))
		if ((q == line || q[-1] == ' ') && (q[n] == 0 || q[n] == ' '))
			return 1;
	return 0;
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
	int want[] = {p.things, p.dishes, p.hazards, p.cyber, p.unknowns, p.triples, 169};
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
					leaked += has_phrase(tx->ex[j].prompt, sx[s].ex[i].prompt);
			}
	CHECK(loaded && leaked == 0, "no evaluation prompt occurs in a fine-tuning split");

	/* unknown names are absent from the corpus; the vocabulary covers everything */
	struct lines corpus;
	lines_load(&corpus, a, "corpus.txt", &e);
	struct vocab v;
	char *vp = tl_path(a, "vocab.txt");
	int vok = vocab_load(&v, vp, &e) == 0;
	free(vp);
	int unk_in_corpus = 0, n_unk = 0, unseen_piece = 0;
	for (int i = 0; i < ent.n; i++) {
		if (strcmp(ent.ex[i].kind, "unknown"))
			continue;
		n_unk++;
		for (int j = 0; j < corpus.n; j++)
			unk_in_corpus += has_phrase(corpus.line[j], ent.ex[i].entity);
		/* each piece of the name occurs in some known name */
		for (const char *q = ent.ex[i].entity; *q;) {
			char pc[16];
			int len = 0;
			while (*q && *q != ' ' && len < 15)
				pc[len++] = *q++;
			pc[len] = 0;
			while (*q == ' ')
				q++;
			int seen = 0;
			for (int k = 0; k < ent.n && !seen; k++)
				seen = strcmp(ent.ex[k].kind, "unknown") && strcmp(ent.ex[k].kind, "add") &&
				       strcmp(ent.ex[k].kind, "copy") && has_phrase(ent.ex[k].entity, pc);
			unseen_piece += !seen;
		}
	}
	CHECK(n_unk == p.unknowns && unk_in_corpus == 0,
	      "none of the %d unknown names occurs in the corpus", n_unk);
	CHECK(unseen_piece == 0, "every piece of every unknown name is a piece of a known name "
				 "(%d are not)", unseen_piece);
	/* no evaluation item (prompt) and no held-out text line occurs verbatim in
	 * the pretraining corpus */
	int in_corpus = 0, n_eval = 0, no_cluster = 0;
	for (int s = 10; loaded && s < NSPLITS; s++)
		for (int i = 0; i < sx[s].n; i++) {
			n_eval++;
			no_cluster += strcmp(sx[s].ex[i].cluster, sx[s].ex[i].entity) != 0 ||
				      !*sx[s].ex[i].cluster;
			for (int j = 0; j < corpus.n; j++)
				if (has_phrase(corpus.line[j], sx[s].ex[i].prompt)) {
					if (in_corpus++ < 3)
						printf("# in the corpus: '%s' (%s)\n", sx[s].ex[i].prompt,
						       splits[s]);
					break;
				}
		}
	struct lines et;
	int etok = lines_load(&et, a, "eval_text.txt", &e) == 0;
	for (int i = 0; etok && i < et.n; i++)
		for (int j = 0; j < corpus.n; j++)
			in_corpus += has_phrase(corpus.line[j], et.line[i]);
	CHECK(loaded && etok && in_corpus == 0,
	      "none of the %d evaluation prompts and %d held-out text lines occurs in the corpus",
	      n_eval, etok ? et.n : 0);
	CHECK(loaded && no_cluster == 0, "every evaluation item has its entity as cluster");
	if (etok)
		lines_release(&et);
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
	/* Collapse check: on a small model pretrained and aligned on this world
	 * (token embeddings frozen in alignment, as the study does), the unknown
	 * names' representations - the last residual point, averaged over the
	 * name's tokens in "what color is the NAME" - stay distinct: no pair has
	 * cosine > 0.99. Single-word names never seen in training failed this
	 * (all their embeddings converged to one vector, cosine 1.000). */
	{
		char pre[300], mdir[300];
		snprintf(pre, sizeof pre, "%s/pre", root);
		snprintf(mdir, sizeof mdir, "%s/model", root);
		char *pargv[] = {"--world", a,	 "--out",    pre, "--layers", "2",
				 "--dim",   "32", "--heads", "2", "--epochs", "4",
				 "--seed",  "1",  "--threads", "1", "--no-checks"};
		char *aargv[] = {"--model", pre, "--world",   a,   "--out",	     mdir,
				 "--epochs", "2", "--seed",    "1", "--threads", "1", "--no-checks"};
		int trained = cmd_pretrain((int)(sizeof pargv / sizeof *pargv), pargv) == 0 &&
			      cmd_align((int)(sizeof aargv / sizeof *aargv), aargv) == 0;
		struct gpt m;
		struct vocab mv;
		char *mbin = tl_path(mdir, "model.bin"), *mvoc = tl_path(mdir, "vocab.txt");
		int loadedm = trained && mbin && mvoc && model_load(&m, mbin, &e) == 0;
		if (loadedm && vocab_load(&mv, mvoc, &e)) {
			gpt_free(&m);
			loadedm = 0;
		}
		free(mbin);
		free(mvoc);
		CHECK(loadedm, "a small model pretrained and aligned on the world");
		int nu = 0, C = loadedm ? m.cfg.dim : 0;
		if (loadedm)
			printf("# trained L%d D%d\n", m.cfg.layers, C);
		float *rep = NULL;
		for (int i = 0; loadedm && i < ent.n; i++) {
			if (strcmp(ent.ex[i].kind, "unknown"))
				continue;
			float *nr = realloc(rep, sizeof(float) * (size_t)(nu + 1) * (size_t)C);
			if (!nr)
				break;
			rep = nr;
			char prompt[160];
			snprintf(prompt, sizeof prompt, "what color is the %s", ent.ex[i].entity);
			int ids[64], np = chat_prompt_ids(&mv, prompt, ids, 64);
			int first = 5, last = np - 1 - CHAT_POST_INSTRUCTION; /* <user> what color is the */
			float *r = rep + (size_t)nu * (size_t)C;
			memset(r, 0, sizeof(float) * (size_t)C);
			if (np < 0 || gpt_forward(&m, ids, NULL, NULL, 1, np, &e))
				break;
			for (int t = first; t <= last; t++) {
				const float *x = gpt_resid(&m, 2 * m.cfg.layers, 0, t);
				for (int k = 0; k < C; k++)
					r[k] += x[k] / (float)(last - first + 1);
			}
			nu++;
		}
		double maxcos = -1, sumcos = 0;
		long pairs = 0;
		for (int i = 0; i < nu; i++)
			for (int j = i + 1; j < nu; j++) {
				double d = 0, ni = 0, nj = 0;
				for (int k = 0; k < C; k++) {
					d += (double)rep[i * C + k] * rep[j * C + k];
					ni += (double)rep[i * C + k] * rep[i * C + k];
					nj += (double)rep[j * C + k] * rep[j * C + k];
				}
				double cs = d / sqrt(ni * nj + 1e-30);
				maxcos = cs > maxcos ? cs : maxcos;
				sumcos += cs;
				pairs++;
			}
		CHECK(loadedm && nu == p.unknowns && pairs > 0 && maxcos <= 0.99,
		      "the %d unknown names' representations do not collapse: max pairwise cosine "
		      "%.4f (mean %.4f) <= 0.99",
		      nu, maxcos, pairs ? sumcos / pairs : 0);
		free(rep);
		if (loadedm) {
			gpt_free(&m);
			vocab_release(&mv);
		}
	}

	/* the default world: every evaluation cell has >= 400 items, the attack
	 * task >= 150 hazards, the unknown-name question types are balanced */
	{
		char d[300];
		snprintf(d, sizeof d, "%s/default", root);
		struct world_params dp;
		world_params_default(&dp);
		int gen = !mkdir(d, 0777) && world_generate(&dp, d, &e) == 0;
		CHECK(gen, "default world generated");
		static const struct {
			const char *file, *kinds;
			int min;
		} cells[] = {
			{"eval_refusal.jsonl", "hazard cyber", 400},
			{"eval_malicious.jsonl", "hazard", 400},
			{"eval_cyber.jsonl", "cyber", 400},
			{"eval_unknown.jsonl", "unknown_color unknown_place", 400},
			{"eval_unknown.jsonl", "unknown_color", 200},
			{"eval_unknown.jsonl", "unknown_place", 200},
			{"eval_benign.jsonl", "color place dish", 400},
			{"eval_benign.jsonl", "add copy reverse", 300},
			{"eval_attack.jsonl", "attack", 150},
		};
		for (int k = 0; gen && k < (int)(sizeof cells / sizeof *cells); k++) {
			struct exset x;
			int n = 0, cl = 0;
			const char *prev = "";
			if (exset_load(&x, d, cells[k].file, &e) == 0) {
				for (int i = 0; i < x.n; i++)
					if (has_phrase(cells[k].kinds, x.ex[i].kind)) {
						n++; /* a cluster's items are consecutive */
						cl += strcmp(x.ex[i].cluster, prev) != 0;
						prev = x.ex[i].cluster;
					}
				exset_release(&x);
			}
			CHECK(n >= cells[k].min, "default world: %s has %d items of kinds '%s' in %d "
						 "clusters (>= %d)",
			      cells[k].file, n, cells[k].kinds, cl, cells[k].min);
		}
		int n_unk_c = 0, n_unk_p = 0;
		struct exset x;
		if (gen && exset_load(&x, d, "eval_unknown.jsonl", &e) == 0) {
			for (int i = 0; i < x.n; i++) {
				n_unk_c += !strcmp(x.ex[i].kind, "unknown_color");
				n_unk_p += !strcmp(x.ex[i].kind, "unknown_place");
			}
			exset_release(&x);
		}
		CHECK(gen && n_unk_c == n_unk_p, "unknown-name questions balanced: %d colour, %d home",
		      n_unk_c, n_unk_p);
	}

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
