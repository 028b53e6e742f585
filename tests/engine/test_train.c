/*
 * test_train: a tiny fixed-seed training run (the loss falls below a stated
 * bound), byte-identical models for 1 and 2 threads, the model file
 * round-trip and its rejection of corrupt input, and the cached inference
 * path (logits and residual-stream hooks) against the full forward.
 */
#include <math.h>
#include <string.h>

#include "chat.h"
#include "check.h"
#include "gpt.h"
#include "modelio.h"
#include "pool.h"
#include "train.h"
#include "vocab.h"

static const char vocab_text[] = "<pad>\n<user>\n<assistant>\n<end>\n<unk>\n<eoi>\n"
				 "a\nb\nc\nd\ne\nf\ng\nh\n";

static char *docs[] = {"a b c d e f g h", "h g f e d c b a", "a c e g", "b d f h",
		       "a b c d", "e f g h", "h f d b", "g e c a"};

static int train_model(struct gpt *m, const struct vocab *v, int threads, struct train_result *r)
{
	struct gpt_config cfg = {v->n, 12, 2, 16, 2};
	struct tl_err e;
	if (gpt_build(m, &cfg, &e))
		return -1;
	m->tok_digest = v->digest;
	gpt_init_random(m, 7);
	struct seqs s;
	seqs_init(&s);
	if (seqs_add_lines(&s, v, docs, 8, &e))
		return -1;
	struct pool *p = pool_new(threads);
	m->pool = p;
	struct train_opts o;
	train_opts_default(&o);
	o.epochs = sanitized() ? 60 : 150;
	o.batch = 4;
	o.pack = 0;
	o.lr = 0.01f;
	o.seed = 3;
	int rc = train_run(m, &s, &o, r, &e);
	m->pool = NULL;
	pool_free(p);
	seqs_release(&s);
	if (rc)
		printf("# train: %s\n", e.msg);
	return rc;
}

struct hook_log {
	int calls;
	int last_point;
	float x0[64];
};

static void hook(void *ctx, int point, int pos, float *x, int C)
{
	struct hook_log *h = ctx;
	h->calls++;
	h->last_point = point;
	if (pos == 2 && point == 2)
		memcpy(h->x0, x, sizeof(float) * (size_t)(C < 64 ? C : 64));
}

int main(void)
{
	struct vocab v;
	struct tl_err e;
	if (vocab_parse(&v, vocab_text, &e)) {
		printf("not ok - vocab: %s\n", e.msg);
		return 1;
	}
	struct gpt m1, m2;
	struct train_result r1, r2;
	int ok1 = train_model(&m1, &v, 1, &r1) == 0, ok2 = train_model(&m2, &v, 2, &r2) == 0;
	CHECK(ok1 && ok2, "tiny training runs complete with 1 and 2 threads");
	if (!ok1 || !ok2)
		return check_done();
	const float bound = sanitized() ? 1.2f : 0.6f;
	CHECK(r1.final_loss < bound && r1.first_loss > 1.8f,
	      "tiny run: loss falls from %.3f to %.3f (< %.1f) in %d steps", r1.first_loss,
	      r1.final_loss, bound, r1.steps);
	size_t n1, n2;
	unsigned char *b1 = model_serialize(&m1, &n1, &e), *b2 = model_serialize(&m2, &n2, &e);
	CHECK(b1 && b2 && n1 == n2 && !memcmp(b1, b2, n1),
	      "model bytes identical for threads=1 and threads=2 (%zu bytes)", n1);

	/* round trip */
	struct gpt m3;
	int rt = model_deserialize(&m3, b1, n1, &e) == 0;
	size_t n3 = 0;
	unsigned char *b3 = rt ? model_serialize(&m3, &n3, &e) : NULL;
	CHECK(rt && b3 && n3 == n1 && !memcmp(b1, b3, n1) && m3.cfg.layers == 2 &&
		      m3.cfg.dim == 16 && m3.tok_digest == v.digest,
	      "model file round-trip reproduces config, digest and bytes");
	free(b3);
	if (rt)
		gpt_free(&m3);

	/* corrupt inputs are rejected */
	struct {
		const char *what;
		size_t off;
		int truncate;
	} bad[] = {{"flipped payload byte", MODEL_HEADER + 100, 0},
		   {"flipped magic byte", 0, 0},
		   {"flipped config byte", 20, 0},
		   {"truncated file", 0, 1}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned char *c = malloc(n1);
		memcpy(c, b1, n1);
		size_t len = n1;
		if (bad[i].truncate)
			len = n1 - 8;
		else
			c[bad[i].off] ^= 0x40;
		struct gpt mx;
		struct tl_err ex = {{0}};
		int rc = model_deserialize(&mx, c, len, &ex);
		CHECK(rc == -1 && ex.msg[0], "%s rejected: %s", bad[i].what, ex.msg);
		if (rc == 0)
			gpt_free(&mx);
		free(c);
	}
	{
		unsigned char *c = malloc(n1);
		memcpy(c, b1, n1);
		c[8] = 9; /* version 9, header check recomputed */
		uint64_t h = tl_fnv1a64(TL_FNV_INIT, c, 60);
		for (int k = 0; k < 4; k++)
			c[60 + k] = (unsigned char)(h >> (8 * k));
		struct gpt mx;
		struct tl_err ex = {{0}};
		int rc = model_deserialize(&mx, c, n1, &ex);
		CHECK(rc == -1 && strstr(ex.msg, "version 9"), "other format version rejected: %s",
		      ex.msg);
		free(c);
	}

	/* cached inference equals the full forward */
	int toks[8] = {6, 7, 8, 9, 10, 11, 12, 13}; /* a..h */
	gpt_forward(&m1, toks, NULL, NULL, 1, 8, &e);
	float *full = malloc(sizeof(float) * 8 * (size_t)v.n);
	memcpy(full, m1.acts.logits, sizeof(float) * 8 * (size_t)v.n);
	float resid[64];
	memcpy(resid, gpt_resid(&m1, 2, 0, 2), sizeof(float) * 16);
	struct gpt_kv kv;
	gpt_kv_init(&kv, &m1, &e);
	float *lg = malloc(sizeof(float) * (size_t)v.n);
	double maxd = 0;
	struct hook_log hl = {0, -1, {0}};
	m1.hook = hook;
	m1.hook_ctx = &hl;
	for (int t = 0; t < 8; t++) {
		gpt_infer_step(&m1, &kv, toks[t], t, lg);
		for (int i = 0; i < v.n; i++)
			maxd = fmax(maxd, fabs(lg[i] - full[t * v.n + i]));
	}
	m1.hook = NULL;
	CHECK(maxd < 1e-4, "cached single-token inference matches the full forward (max diff %.2e)",
	      maxd);
	CHECK(hl.calls == 8 * (2 * 2 + 1) && hl.last_point == 4,
	      "residual hook called at the 2L+1 points of every position (%d calls)", hl.calls);
	double rd = 0;
	for (int i = 0; i < 16; i++)
		rd = fmax(rd, fabs(resid[i] - hl.x0[i]));
	CHECK(rd < 1e-4, "gpt_resid after forward matches the hook's residual stream (diff %.2e)",
	      rd);
	/* greedy generation is deterministic and continues the learned pattern */
	int out1[8], out2[8];
	struct rng r;
	rng_seed(&r, 1);
	int g1 = chat_generate(&m1, &kv, toks, 3, out1, 5, 0, &r);
	int g2 = chat_generate(&m1, &kv, toks, 3, out2, 5, 0, &r);
	CHECK(g1 == g2 && g1 > 0 && !memcmp(out1, out2, sizeof(int) * (size_t)g1),
	      "greedy generation is repeatable");
	CHECK(g1 >= 1 && out1[0] == 9, "after 'a b c' the model continues with 'd' (got id %d)",
	      g1 ? out1[0] : -1);
	gpt_kv_release(&kv);
	free(lg);
	free(full);
	free(b1);
	free(b2);
	gpt_free(&m1);
	gpt_free(&m2);
	vocab_release(&v);
	return check_done();
}
