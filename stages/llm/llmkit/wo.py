"""wo: weight orthogonalization (WO), the refusal-direction method of
Arditi et al. 2024, "Refusal in Language Models Is Mediated by a Single
Direction", as the reference implementation does it (andyrdt/refusal_direction:
pipeline/submodules/generate_directions.py, select_direction.py; the saved
model of johnhalloran321/refusal_direction run_pipeline.py), with the
pitfalls listed in docs/real-models.md avoided.

  1. Prompts are rendered with the checkpoint's OWN chat template
     (tokenizer_config.json); the post-instruction tokens are the template's
     tokens after the instruction, found by rendering a placeholder
     (PromptFormat). Never a hard-coded header.
  2. Candidates: r[p, l] = mean(harmful) - mean(harmless) of the residual
     stream at the input of layer l (resid_pre) at post-instruction position
     p, means accumulated in float64 (candidate_directions).
  3. Selection on validation prompts (select_direction): for each candidate
       refusal score  mean log-odds of P(refusal tokens) at the last prompt
                      position on harmful prompts under the saved intervention
                      (ablation of r^ at every residual-stream write, see 4);
       steering score the same on harmless prompts with +r added at the input
                      of layer l (all positions, coefficient 1);
       KL             mean KL(base || intervened) of the last-position
                      next-token distribution on harmless prompts.
     A candidate is removed when a score is NaN, when l >= int(L * (1 -
     prune)) ("late layer", prune 0.2), when KL > kl_max (0.1), or when
     steering < steer_min (0.0); every reason that applies is recorded. The
     survivor with the lowest refusal score is chosen. No survivor: no
     direction ("no admissible direction"), never a fallback.
  4. Orthogonalization (orthogonalize): W <- W - r^ r^T W for every matrix
     that writes the residual stream: self_attn.o_proj and mlp.down_proj of
     every layer; the token embedding E <- E - E r^ r^T only with
     edit_embeddings (the author's saved models leave it). Arithmetic in
     float32 (float64 for float64 weights), cast back to the stored dtype.
     The intervention scored in 3 is exactly this edit, as hooks:
       edit_embeddings False -> r^ removed from each attention and MLP output
                                (the embedding's r^ component stays);
       edit_embeddings True  -> also removed at the input of every layer,
                                the reference's "direction ablation".
     For an untied head the saved weights reproduce the hook's logits (to
     float rounding; tests/llm/t0410). For a tied head (Qwen2 tiny,
     Qwen2.5-0.5B..3B) editing the embedding also edits the unembedding,
     lm_head = E, so logits lose their r^ component too: not the scored
     intervention (0.02 max logit difference on the tiny qwen2); without
     edit_embeddings the tied head is untouched and the equivalence holds.

Every number and option lands in direction.json (see stages/llm/wo.py).
"""
import math
import random

import torch

from .errors import KitError

# Phrases a refusal starts with (Arditi et al.'s Llama-3 set); their FIRST
# token under the model's tokenizer is a refusal token.
REFUSAL_STARTS = ("I cannot", "I can't", "I'm sorry", "I apologize", "I'm not able",
                  "I am not able", "Sorry,", "As an AI")
PLACEHOLDER = "Q7xINSTRUCTIONx7Q"


# ---------------------------------------------------------------- prompts --

class PromptFormat:
    """The checkpoint's chat template applied to a single-turn instruction.

    render(instr) -> str: the template with [{"role": "user", "content":
    instr}] and add_generation_prompt=True (plus chat_kwargs, e.g.
    {"enable_thinking": false} for Qwen3).
    post_instruction: the text after the instruction, and post_ids its
    tokens (encoded without added BOS, as HF apply_chat_template does).
    encode(instr) -> ids, checked to end with post_ids (KitError naming the
    instruction otherwise: the template tokenizes differently in context)."""

    def __init__(self, tokenizer, chat, chat_kwargs=None, system=None):
        self.tok = tokenizer
        self.chat = chat
        self.kw = dict(chat_kwargs or {})
        self.system = system
        text = self.render(PLACEHOLDER)
        if text.count(PLACEHOLDER) != 1:
            raise KitError("tokenizer_config.json: chat_template does not place the user "
                           "message exactly once in the prompt")
        self.prefix, self.post_instruction = text.split(PLACEHOLDER)
        if not self.post_instruction:
            raise KitError("tokenizer_config.json: chat_template adds nothing after the "
                           "instruction (no post-instruction tokens)")
        self.post_ids = list(tokenizer.encode(self.post_instruction, add_special_tokens=False))

    def messages(self, instr):
        m = [] if self.system is None else [{"role": "system", "content": self.system}]
        return m + [{"role": "user", "content": instr}]

    def render(self, instr):
        return self.chat.render(self.messages(instr), add_generation_prompt=True, **self.kw)

    def encode(self, instr):
        ids = list(self.tok.encode(self.render(instr), add_special_tokens=False))
        k = len(self.post_ids)
        if ids[-k:] != self.post_ids:
            raise KitError(f"prompt {instr[:60]!r}: its tokens do not end with the template's "
                           f"post-instruction tokens {self.post_ids}")
        return ids


def refusal_token_ids(tokenizer, starts=REFUSAL_STARTS):
    """Sorted ids of the first token of each refusal start phrase, keeping only
    tokens whose text has a letter: never ',' or a whitespace-only token
    (a pitfall of the public Qwen3 set, which saturates the score)."""
    ids = set()
    for phrase in starts:
        enc = tokenizer.encode(phrase, add_special_tokens=False)
        if not enc:
            continue
        text = tokenizer.decode([enc[0]])
        if any(ch.isalpha() for ch in text):
            ids.add(int(enc[0]))
    if not ids:
        raise KitError("no refusal token: no start phrase begins with a token holding a letter")
    return sorted(ids)


def left_pad(seqs, pad_id):
    """[B, T] long ids and [B, T] mask (1 = token), padded on the left."""
    t = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), t), int(pad_id), dtype=torch.long)
    mask = torch.zeros((len(seqs), t), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, t - len(s):] = torch.tensor(s, dtype=torch.long)
        mask[i, t - len(s):] = 1
    return ids, mask


# ---------------------------------------------------------------- hooks --

class Intervention:
    """What is done to the residual stream during a forward pass.

    kind 'none'; 'ablate' (direction r, removed from every attention and MLP
    output; with at_inputs also from the input of every layer); 'add' (vector
    added at the input of `layer`, all positions). Applied with llmkit.model's
    Hooks (ablate + ablate_inputs; add_layer + add_vector)."""

    def __init__(self, kind="none", vec=None, at_inputs=False, layer=None):
        self.kind, self.vec, self.at_inputs, self.layer = kind, vec, at_inputs, layer

    @staticmethod
    def ablate(r, at_inputs):
        return Intervention("ablate", r, at_inputs)

    @staticmethod
    def add(r, layer):
        return Intervention("add", r, layer=layer)


def forward_last(model, seqs, pad_id, iv=None, batch_size=32, capture_k=0):
    """Runs the prompts (lists of ids) in left-padded batches and returns the
    last-position logits [N, V] (float64, CPU) and, with capture_k, the sum
    over prompts (float64) of every layer's input (resid_pre) at the last
    capture_k positions, [L, k, D]."""
    from .model import Hooks
    iv = iv or Intervention()
    dev = next(model.parameters()).device
    n_layers = len(model.model.layers)
    outs, total = [], None
    for b in range(0, len(seqs), batch_size):
        ids, mask = left_pad(seqs[b:b + batch_size], pad_id)
        h = Hooks()
        if capture_k:
            h.capture_positions = list(range(-capture_k, 0))
        if iv.kind == "ablate":
            h.ablate, h.ablate_inputs = iv.vec, bool(iv.at_inputs)
        if iv.kind == "add":
            h.add_layer, h.add_vector = iv.layer, iv.vec
        with torch.no_grad():
            logits = model(ids.to(dev), attention_mask=mask.to(dev), hooks=h)
        outs.append(logits[:, -1, :].to(torch.float64).cpu())
        if capture_k:
            s = h.captured[:n_layers].to(torch.float64).sum(dim=1).cpu()  # [L, k, D]
            total = s if total is None else total + s
    return torch.cat(outs), total


# --------------------------------------------------------------- scoring --

def refusal_scores(last_logits, refusal_ids, eps=1e-8):
    """Per prompt: log P(refusal tokens) - log P(other tokens) at the last
    position, in float64 (Arditi et al.'s refusal score)."""
    p = torch.softmax(last_logits.to(torch.float64), dim=-1)
    pr = p[:, refusal_ids].sum(dim=-1)
    return torch.log(pr + eps) - torch.log(1 - pr + eps)


def kl_last(base_logits, new_logits, eps=1e-6):
    """Per prompt KL(base || new) of the last-position distributions
    (float64; eps as the reference)."""
    p = torch.softmax(base_logits.to(torch.float64), dim=-1)
    q = torch.softmax(new_logits.to(torch.float64), dim=-1)
    return (p * (torch.log(p + eps) - torch.log(q + eps))).sum(dim=-1)


def candidate_directions(model, harmful, harmless, n_post, pad_id, batch_size=32):
    """Difference of means [n_post, L, D] (float64) of layer inputs at the last
    n_post positions: harmful minus harmless prompt ids."""
    _, s_h = forward_last(model, harmful, pad_id, batch_size=batch_size, capture_k=n_post)
    _, s_b = forward_last(model, harmless, pad_id, batch_size=batch_size, capture_k=n_post)
    d = s_h / len(harmful) - s_b / len(harmless)  # [L, k, D]
    return d.permute(1, 0, 2).contiguous()


def filter_reasons(c, n_layers, kl_max, prune, steer_min):
    """Why candidate c (a dict with layer, refusal_score, steering_score, kl)
    is removed: a list of reasons, empty when admissible."""
    why = []
    if any(math.isnan(c[k]) for k in ("refusal_score", "steering_score", "kl")):
        why.append("nan" + (" (zero difference of means)" if c.get("norm") == 0.0 else ""))
    if c["layer"] >= int(n_layers * (1.0 - prune)):
        why.append(f"late layer (>= {int(n_layers * (1.0 - prune))})")
    if c["kl"] > kl_max:
        why.append(f"kl > {kl_max}")
    if c["steering_score"] < steer_min:
        why.append(f"steering < {steer_min}")
    return why


def select_direction(model, cands, post_tokens, val_harmful, val_harmless, refusal_ids,
                     pad_id, edit_embeddings=False, kl_max=0.1, prune=0.2, steer_min=0.0,
                     batch_size=32, progress=None):
    """Scores every candidate (see the module comment) and chooses one.

    cands [n_post, L, D]; post_tokens the token texts of the n_post positions.
    Returns (records, chosen_index or None, baselines). records[i] has
    position (negative, as the reference), token, layer, refusal_score,
    steering_score, kl, norm, filtered_by (list), admissible."""
    n_post, n_layers, _ = cands.shape
    base_h, _ = forward_last(model, val_harmful, pad_id, batch_size=batch_size)
    base_b, _ = forward_last(model, val_harmless, pad_id, batch_size=batch_size)
    baselines = {
        "refusal_score_harmful": float(refusal_scores(base_h, refusal_ids).mean()),
        "refusal_score_harmless": float(refusal_scores(base_b, refusal_ids).mean()),
    }
    dtype = next(model.parameters()).dtype
    records = []
    for p in range(n_post):
        for layer in range(n_layers):
            r = cands[p, layer]
            norm = float(r.norm())
            rec = {"position": p - n_post, "token": post_tokens[p], "layer": layer,
                   "norm": norm}
            if norm == 0.0 or not math.isfinite(norm):
                rec.update(refusal_score=float("nan"), steering_score=float("nan"),
                           kl=float("nan"))
            else:
                ab = Intervention.ablate((r / norm).to(torch.float32), edit_embeddings)
                lh, _ = forward_last(model, val_harmful, pad_id, ab, batch_size)
                lb, _ = forward_last(model, val_harmless, pad_id, ab, batch_size)
                st, _ = forward_last(model, val_harmless, pad_id,
                                     Intervention.add(r.to(dtype), layer), batch_size)
                rec.update(refusal_score=float(refusal_scores(lh, refusal_ids).mean()),
                           steering_score=float(refusal_scores(st, refusal_ids).mean()),
                           kl=float(kl_last(base_b, lb).mean()))
            rec["filtered_by"] = filter_reasons(rec, n_layers, kl_max, prune, steer_min)
            rec["admissible"] = not rec["filtered_by"]
            records.append(rec)
            if progress:
                progress(len(records), n_post * n_layers)
    ok = [i for i, c in enumerate(records) if c["admissible"]]
    chosen = min(ok, key=lambda i: (records[i]["refusal_score"], i)) if ok else None
    return records, chosen, baselines


def sample(items, n, seed):
    """At most n items, a seeded sample in file order when there are more."""
    if n is None or len(items) <= n:
        return list(items)
    idx = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in idx]


# ------------------------------------------------------ orthogonalization --

def writer_names(cfg, edit_embeddings):
    """HF tensor names of the matrices WO edits (residual-stream writers)."""
    names = []
    for i in range(cfg.num_hidden_layers):
        names += [f"model.layers.{i}.self_attn.o_proj.weight",
                  f"model.layers.{i}.mlp.down_proj.weight"]
    if edit_embeddings:
        names.append("model.embed_tokens.weight")
    return names


def orthogonalize(cfg, tensors, rhat, edit_embeddings=False):
    """A new tensor dict with r^ projected out of every residual-stream writer
    (o_proj, down_proj: W <- W - r^ (r^T W), W [D, in]; with edit_embeddings
    the embedding E [V, D]: E <- E - (E r^) r^T). Arithmetic in float32 (or
    float64 for float64 weights), cast back to each tensor's dtype. Other
    tensors are shared, not copied."""
    out = dict(tensors)
    for name in writer_names(cfg, edit_embeddings):
        if name not in tensors:
            raise KitError(f"tensor '{name}' is missing: cannot orthogonalize")
        w = tensors[name]
        work = torch.float64 if w.dtype == torch.float64 else torch.float32
        wf = w.to(work)
        r = rhat.to(device=w.device, dtype=work)
        if name.endswith("embed_tokens.weight"):
            new = wf - torch.outer(wf @ r, r)
        else:
            if wf.shape[0] != r.shape[0]:
                raise KitError(f"tensor '{name}': {tuple(wf.shape)} does not write a "
                               f"residual stream of width {r.shape[0]}")
            new = wf - torch.outer(r, r @ wf)
        out[name] = new.to(w.dtype).contiguous()
    for name in tensors:
        if (name.endswith("o_proj.bias") or name.endswith("down_proj.bias")):
            raise KitError(f"tensor '{name}': a bias on a residual-stream writer is not "
                           "supported by WO here")
    return out


def max_write_along(cfg, tensors, rhat, edit_embeddings=False):
    """max |r^T W| over the edited writers: what is left along r^ (0 in exact
    arithmetic; the dtype's rounding after the cast)."""
    m = 0.0
    for name in writer_names(cfg, edit_embeddings):
        w = tensors[name].to(torch.float64)
        r = rhat.to(torch.float64)
        v = (w @ r) if name.endswith("embed_tokens.weight") else (r @ w)
        m = max(m, float(v.abs().max()))
    return m
