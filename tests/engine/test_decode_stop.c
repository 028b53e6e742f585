/*
 * test_decode_stop: decoding (chat_generate) stops at ANY turn marker, not
 * only at <end> (the audit's finding 9: replies ran into invented turns).
 * A one-layer model is wired so that its next token is the same whatever the
 * input: the final layernorm's gain is 0 and its bias a unit vector e0, so
 * every logit is wte[v][0]; raising one token's wte[v][0] makes greedy
 * decoding emit that token forever.
 */
#include "chat.h"
#include "check.h"

#include <string.h>

enum { V = TOK_NSPECIAL + 4, MAXOUT = 5 };

static int emit_forever(struct gpt *m, int tok)
{
	memset(m->params_mem, 0, m->nparams * sizeof(float));
	for (int c = 0; c < m->cfg.dim; c++)
		m->params.lnfb[c] = c == 0;
	m->params.wte[(size_t)tok * (size_t)m->cfg.dim] = 5.0f;
	struct gpt_kv kv;
	struct tl_err e;
	if (gpt_kv_init(&kv, m, &e))
		return -2;
	int prompt[3] = {TOK_USER, TOK_NSPECIAL + 1, TOK_ASSISTANT}, out[MAXOUT];
	int n = chat_generate(m, &kv, prompt, 3, out, MAXOUT, 0, NULL);
	for (int i = 0; i < n; i++)
		if (out[i] != tok)
			n = -3;
	gpt_kv_release(&kv);
	return n;
}

int main(void)
{
	struct gpt_config cfg = {V, 16, 1, 8, 2};
	struct gpt m;
	struct tl_err e;
	if (gpt_build(&m, &cfg, &e)) {
		printf("not ok - build: %s\n", e.msg);
		return 1;
	}
	static const char *const names[] = {"<pad>", "<user>", "<assistant>", "<end>"};
	for (int t = 0; t < TOK_NSPECIAL; t++) {
		if (t == TOK_UNK)
			continue;
		int n = emit_forever(&m, t);
		CHECK(n == 0, "decoding stops at %s (%d tokens kept, want 0)",
		      t < 4 ? names[t] : "a template token", n);
		CHECK(chat_is_turn_marker(t), "token %d is a turn marker", t);
	}
	int n = emit_forever(&m, TOK_NSPECIAL + 2);
	CHECK(n == MAXOUT, "a word is decoded until maxout (%d of %d)", n, MAXOUT);
	n = emit_forever(&m, TOK_UNK);
	CHECK(n == MAXOUT, "<unk> is not a turn marker (%d of %d)", n, MAXOUT);
	CHECK(!chat_is_turn_marker(TOK_UNK) && !chat_is_turn_marker(TOK_NSPECIAL) &&
		      !chat_is_turn_marker(-1),
	      "<unk>, words and -1 are not turn markers");
	gpt_free(&m);
	return check_done();
}
