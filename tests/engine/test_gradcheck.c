/*
 * test_gradcheck: the backward pass of every layer against central finite
 * differences, on a tiny config. For each parameter tensor (each one is
 * reached through a different layer's backward: encoder, layernorm, matmul,
 * attention, GELU, residual, softmax cross-entropy) the analytic gradient of
 * the masked mean loss is compared with (L(p+h) - L(p-h)) / 2h, the loss
 * accumulated in double; the check is a relative error of the gradient
 * vector below 1e-2 and every element within 2e-3 + 5e-2*|g|.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "gpt.h"
#include "pool.h"

static const char *const layer_of[GPT_NTENSORS] = {
	"encoder + tied output matmul", "encoder (positions)", "layernorm 1", "layernorm 1",
	"attention + qkv matmul", "attention + qkv matmul", "attention projection matmul",
	"attention projection matmul", "layernorm 2", "layernorm 2", "MLP matmul + GELU",
	"MLP matmul + GELU", "MLP projection matmul", "MLP projection matmul",
	"final layernorm", "final layernorm"};

static double loss_at(struct gpt *m, const int *in, const int *tg, const float *mask, int B,
		      int T)
{
	struct tl_err e;
	if (gpt_forward(m, in, tg, mask, B, T, &e))
		return NAN;
	double num = 0, den = 0;
	for (int i = 0; i < B * T; i++) {
		num += (double)mask[i] * m->acts.losses[i];
		den += mask[i];
	}
	return num / den;
}

int main(void)
{
	struct gpt_config cfg = {13, 6, 2, 8, 2};
	struct gpt m;
	struct tl_err e;
	if (gpt_build(&m, &cfg, &e) || gpt_alloc_train(&m, &e)) {
		printf("not ok - build: %s\n", e.msg);
		return 1;
	}
	gpt_init_random(&m, 42);
	/* larger weights than the 0.02 init so every path carries signal */
	for (size_t i = 0; i < m.nparams; i++)
		m.params_mem[i] *= 4.0f;
	for (int l = 0; l < cfg.layers * cfg.dim; l++) {
		m.params.ln1w[l] = 1.0f + 0.1f * (float)(l % 5);
		m.params.ln2b[l] = 0.05f * (float)(l % 3);
	}
	enum { B = 2, T = 5 };
	int in[B * T] = {1, 5, 7, 2, 9, 3, 3, 11, 4, 6};
	int tg[B * T] = {5, 7, 2, 9, 12, 3, 11, 4, 6, 8};
	float mask[B * T] = {1, 1, 0, 1, 1, 0, 1, 1, 1, 1};
	loss_at(&m, in, tg, mask, B, T);
	gpt_zero_grad(&m);
	gpt_backward(&m, in, tg, mask);
	float *grad = malloc(m.nparams * sizeof(float));
	memcpy(grad, m.grads_mem, m.nparams * sizeof(float));
	const float h = 2e-3f;
	size_t off = 0;
	for (int t = 0; t < GPT_NTENSORS; t++) {
		double dn = 0, an = 0, nn = 0;
		int elem_ok = 1;
		for (size_t i = off; i < off + m.sizes[t]; i++) {
			float keep = m.params_mem[i];
			m.params_mem[i] = keep + h;
			double lp = loss_at(&m, in, tg, mask, B, T);
			m.params_mem[i] = keep - h;
			double lm = loss_at(&m, in, tg, mask, B, T);
			m.params_mem[i] = keep;
			double num = (lp - lm) / (2.0 * h), a = grad[i];
			dn += (a - num) * (a - num);
			an += a * a;
			nn += num * num;
			if (fabs(a - num) > 2e-3 + 5e-2 * fabs(num))
				elem_ok = 0;
		}
		double rel = sqrt(dn) / (sqrt(an) + sqrt(nn) + 1e-12);
		CHECK(rel < 1e-2 && elem_ok && an > 0,
		      "gradcheck %-8s (%s): relative error %.2e, |g| %.3e", gpt_param_names[t],
		      layer_of[t], rel, sqrt(an));
		off += m.sizes[t];
	}
	/* masked positions contribute nothing */
	float mask0[B * T];
	memcpy(mask0, mask, sizeof mask0);
	mask0[0] = 0;
	double l1 = loss_at(&m, in, tg, mask0, B, T);
	int tg2[B * T];
	memcpy(tg2, tg, sizeof tg2);
	tg2[0] = 1;
	double l2 = loss_at(&m, in, tg2, mask0, B, T);
	CHECK(l1 == l2, "a masked position's target does not change the loss");
	/* threaded forward/backward give bit-identical gradients */
	struct pool *p = pool_new(3);
	m.pool = p;
	loss_at(&m, in, tg, mask, B, T);
	gpt_zero_grad(&m);
	gpt_backward(&m, in, tg, mask);
	CHECK(!memcmp(grad, m.grads_mem, m.nparams * sizeof(float)),
	      "gradients with 3 threads are bit-identical to 1 thread");
	m.pool = NULL;
	pool_free(p);
	free(grad);
	gpt_free(&m);
	return check_done();
}
