/* modelio: model.bin writer and checked reader (format in modelio.h). */
#include "modelio.h"

#include <stdlib.h>
#include <string.h>

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void floats_to_le(unsigned char *dst, const float *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &src[i], 4);
		put32(dst + 4 * i, u);
	}
}

unsigned char *model_serialize(const struct gpt *m, size_t *len, struct tl_err *e)
{
	size_t n = MODEL_HEADER + m->nparams * 4;
	unsigned char *b = calloc(1, n);
	if (!b) {
		tl_fail(e, "out of memory");
		return NULL;
	}
	memcpy(b, MODEL_MAGIC, 8);
	put32(b + 8, MODEL_VERSION);
	put32(b + 12, (uint32_t)m->cfg.vocab);
	put32(b + 16, (uint32_t)m->cfg.max_seq);
	put32(b + 20, (uint32_t)m->cfg.layers);
	put32(b + 24, (uint32_t)m->cfg.dim);
	put32(b + 28, (uint32_t)m->cfg.heads);
	put64(b + 32, m->tok_digest);
	put64(b + 40, (uint64_t)m->nparams);
	floats_to_le(b + MODEL_HEADER, m->params_mem, m->nparams);
	put64(b + 48, tl_fnv1a64(TL_FNV_INIT, b + MODEL_HEADER, m->nparams * 4));
	put32(b + 60, (uint32_t)tl_fnv1a64(TL_FNV_INIT, b, 60));
	*len = n;
	return b;
}

int model_save(const struct gpt *m, const char *dir, struct tl_err *e)
{
	size_t n;
	unsigned char *b = model_serialize(m, &n, e);
	if (!b)
		return -1;
	int rc = tl_write_file(dir, "model.bin", b, n, e);
	free(b);
	return rc;
}

int model_deserialize(struct gpt *m, const unsigned char *b, size_t len, struct tl_err *e)
{
	memset(m, 0, sizeof *m);
	if (len < MODEL_HEADER || memcmp(b, MODEL_MAGIC, 8))
		return tl_fail(e, "not a toyllm model file (bad magic)");
	if ((uint32_t)tl_fnv1a64(TL_FNV_INIT, b, 60) != get32(b + 60))
		return tl_fail(e, "model header is corrupt (header check mismatch)");
	if (get32(b + 8) != MODEL_VERSION)
		return tl_fail(e, "model format version %u, this toyllm reads version %u "
				  "(hint: retrain the model with this build)",
			       get32(b + 8), MODEL_VERSION);
	struct gpt_config c = {(int)get32(b + 12), (int)get32(b + 16), (int)get32(b + 20),
			       (int)get32(b + 24), (int)get32(b + 28)};
	if (get32(b + 12) > 1000000 || get32(b + 16) > 4096 || get32(b + 20) > 64 ||
	    get32(b + 24) > 4096 || get32(b + 28) > 4096)
		return tl_fail(e, "model header has an out-of-range config");
	struct gpt tmp;
	if (gpt_build(&tmp, &c, e))
		return -1;
	if (get64(b + 40) != tmp.nparams) {
		gpt_free(&tmp);
		return tl_fail(e, "model header parameter count does not match its config");
	}
	if (len != MODEL_HEADER + tmp.nparams * 4) {
		size_t want = MODEL_HEADER + tmp.nparams * 4;
		gpt_free(&tmp);
		return tl_fail(e, "model file has %zu bytes, its header implies %zu (truncated?)", len,
			       want);
	}
	if (tl_fnv1a64(TL_FNV_INIT, b + MODEL_HEADER, tmp.nparams * 4) != get64(b + 48)) {
		gpt_free(&tmp);
		return tl_fail(e, "model payload is corrupt (digest mismatch)");
	}
	for (size_t i = 0; i < tmp.nparams; i++) {
		uint32_t u = get32(b + MODEL_HEADER + 4 * i);
		memcpy(&tmp.params_mem[i], &u, 4);
	}
	tmp.tok_digest = get64(b + 32);
	*m = tmp;
	return 0;
}

int model_load(struct gpt *m, const char *path, struct tl_err *e)
{
	size_t len;
	char *buf = tl_read_file(path, &len, e);
	if (!buf)
		return -1;
	struct tl_err e2;
	int rc = model_deserialize(m, (unsigned char *)buf, len, &e2);
	free(buf);
	if (rc)
		return tl_fail(e, "'%s': %s", path, e2.msg);
	return 0;
}
