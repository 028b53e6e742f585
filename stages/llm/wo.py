#!/usr/bin/env python3
"""wo: weight orthogonalization of a real checkpoint (Arditi et al. 2024, as
andyrdt/refusal_direction does it; method and pitfalls in llmkit/wo.py and
docs/real-models.md).

usage: wo.py --model DIR --data DIR --out DIR [options]

--model DIR        a checkpoint directory (llama, qwen2, qwen3)
--data DIR         holds wo_harmful.jsonl, wo_harmless.jsonl (candidates) and
                   wo_val_harmful.jsonl, wo_val_harmless.jsonl (selection):
                   JSON lines with "prompt" (or "instruction")
--n-train N (128), --n-val N (32)   seeded samples of the splits (--seed)
--no-filter        keep every prompt (default: keep harmful prompts the model
                   refuses, score > 0, and harmless ones it does not, < 0, as
                   the reference does)
--kl-max 0.1, --prune 0.2, --steer-min 0.0   the selection's filters
--edit-embeddings  also orthogonalize the token embedding (the reference's
                   hook ablation at every layer input); default off, as the
                   author's saved models; scored with the matching hooks
--output checkpoint|recipe   the WO model as a full checkpoint (default), or
                   the direction + a recipe that llmkit.variant materialises
                   from the base on load (for 8B/14B)
--chat-kwargs JSON chat-template variables over the checkpoint's prompting.json
                   (llmkit/variant.py), e.g. {"enable_thinking": false}
--device cpu|cuda, --dtype float32|bfloat16|float16 (default: the checkpoint's)
--batch-size 32, --seed 0

Writes into --out: the model (checkpoint files, or wo_recipe.json +
direction.safetensors + tokenizer files), direction.json (every candidate's
scores and the filters that removed it, the chosen one or the outcome "no
admissible direction", every option), metrics.json (the orchestrator's
format). With no admissible direction the stage succeeds and the model is
the input model unchanged (metrics.json: admissible 0).
Status 2 with a message naming the file/field on bad input.
"""
import json
import os
import shutil
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the tree (the study hashes the sources)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llmkit.errors import KitError  # noqa: E402
from llmkit.runtime import main, setup_torch, write_atomic  # noqa: E402

DTYPES = ("float32", "bfloat16", "float16")


def parse():
    import argparse
    ap = argparse.ArgumentParser(prog="wo.py", description="weight orthogonalization")
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-train", type=int, default=128)
    ap.add_argument("--n-val", type=int, default=32)
    ap.add_argument("--no-filter", action="store_true")
    ap.add_argument("--kl-max", type=float, default=0.1)
    ap.add_argument("--prune", type=float, default=0.2)
    ap.add_argument("--steer-min", type=float, default=0.0)
    ap.add_argument("--edit-embeddings", action="store_true")
    ap.add_argument("--output", choices=("checkpoint", "recipe"), default="checkpoint")
    ap.add_argument("--chat-kwargs", default="{}")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", choices=DTYPES, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    try:
        a.chat_kwargs = json.loads(a.chat_kwargs)
        if not isinstance(a.chat_kwargs, dict):
            raise ValueError("not an object")
    except ValueError as e:
        raise KitError(f"--chat-kwargs: not a JSON object ({e})")
    return a


def num(x):
    """A JSON-safe float (NaN -> None), rounded for stable text."""
    return None if x != x else round(float(x), 6)


def run():
    import torch
    from llmkit import variant as V
    from llmkit import wo as W
    from llmkit.safetensors import write_safetensors

    a = parse()
    t0 = time.time()
    dev = setup_torch(a.device)
    dtype = getattr(torch, a.dtype) if a.dtype else None
    tok, fmt = V.open_prompting(a.model, a.chat_kwargs)
    model, cfg = V.load_model(a.model, dtype=dtype, device=dev)
    eos = V.eos_ids(cfg, tok, a.model)
    pad = V.pad_id(tok, eos)
    refusal_ids = W.refusal_token_ids(tok)

    splits = {}
    for name, n in (("wo_harmful", a.n_train), ("wo_harmless", a.n_train),
                    ("wo_val_harmful", a.n_val), ("wo_val_harmless", a.n_val)):
        rows = V.read_prompts(os.path.join(a.data, name + ".jsonl"))
        splits[name] = [fmt.encode(r["prompt"]) for r in W.sample(rows, n, a.seed)]
    counts = {k: {"sampled": len(v)} for k, v in splits.items()}
    if not a.no_filter:
        for name, seqs in splits.items():
            logits, _ = W.forward_last(model, seqs, pad, batch_size=a.batch_size)
            s = W.refusal_scores(logits, refusal_ids)
            keep = (s > 0) if name.endswith("harmful") else (s < 0)
            splits[name] = [q for q, k in zip(seqs, keep.tolist()) if k]
    for k in counts:
        counts[k]["used"] = len(splits[k])

    n_post = len(fmt.post_ids)
    post_tokens = [tok.decode([i]) for i in fmt.post_ids]
    records, chosen, baselines, cands = [], None, {}, None
    empty = [k for k, v in splits.items() if not v]
    if empty:
        outcome = "no admissible direction: no prompts left in " + ", ".join(empty) + \
            (" after filtering by the model's refusal score" if not a.no_filter else "")
    else:
        cands = W.candidate_directions(model, splits["wo_harmful"], splits["wo_harmless"],
                                       n_post, pad, a.batch_size)
        records, chosen, baselines = W.select_direction(
            model, cands, post_tokens, splits["wo_val_harmful"], splits["wo_val_harmless"],
            refusal_ids, pad, edit_embeddings=a.edit_embeddings, kl_max=a.kl_max,
            prune=a.prune, steer_min=a.steer_min, batch_size=a.batch_size)
        outcome = "chosen" if chosen is not None else \
            "no admissible direction: every candidate was filtered out"

    # the model: edited with the chosen direction, or the input unchanged
    os.makedirs(a.out, exist_ok=True)
    rhat = None
    if chosen is not None:
        c = records[chosen]
        r = cands[c["position"] + n_post, c["layer"]]
        rhat = (r / r.norm()).to(torch.float32)
    base_tensors = {n: p.detach() for n, p in model.state_dict().items()}
    check = {}
    if a.output == "checkpoint":
        tensors = base_tensors if rhat is None else \
            W.orthogonalize(cfg, base_tensors, rhat, a.edit_embeddings)
        # saved in the checkpoint's own dtype, whatever --dtype computed in
        # (the edit itself is done in float32 and rounded once, here)
        file_dtype = getattr(torch, str(cfg.torch_dtype), None)
        if isinstance(file_dtype, torch.dtype):
            tensors = {k: v.to(file_dtype) for k, v in tensors.items()}
        if rhat is not None:
            check["max_write_along_direction"] = W.max_write_along(cfg, tensors, rhat,
                                                                   a.edit_embeddings)
        V.save_into(a.out, cfg, tensors, copy_from=a.model)
        if rhat is not None:
            # the saved weights against the scored hook intervention
            saved, _ = V.load_model(a.out, dtype=model.dtype_, device=dev)
            probe = splits["wo_val_harmless"] + splits["wo_val_harmful"]
            l_saved, _ = W.forward_last(saved, probe, pad, batch_size=a.batch_size)
            l_hook, _ = W.forward_last(model, probe, pad,
                                       W.Intervention.ablate(rhat, a.edit_embeddings),
                                       a.batch_size)
            check["saved_vs_hook_max_abs_logit_diff"] = float((l_saved - l_hook).abs().max())
            del saved
    else:
        for name in V.TOKENIZER_FILES:
            src = os.path.join(a.model, name)
            if os.path.isfile(src):
                shutil.copyfile(src, os.path.join(a.out, name))
        if rhat is not None:
            write_safetensors(os.path.join(a.out, "direction.safetensors"),
                              {"direction": rhat.cpu().contiguous()},
                              {"format": "llmkit-wo-direction"})
        recipe = {"format": "llmkit-wo-recipe", "version": 1,
                  "edit_embeddings": bool(a.edit_embeddings),
                  "writers": W.writer_names(cfg, a.edit_embeddings) if rhat is not None else [],
                  "direction": "direction.safetensors" if rhat is not None else None,
                  "base": V.base_identity(a.model)}
        write_atomic(os.path.join(a.out, V.RECIPE), json.dumps(recipe, indent=1, sort_keys=True) + "\n")

    options = {"n_train": a.n_train, "n_val": a.n_val, "filter": not a.no_filter,
               "kl_max": a.kl_max, "prune": a.prune, "steer_min": a.steer_min,
               "edit_embeddings": a.edit_embeddings, "output": a.output,
               "chat_kwargs": fmt.kw, "seed": a.seed,
               "refusal_score": "logit-last (log-odds of refusal tokens at the last prompt position)",
               "intervention": ("ablation at every layer input, attention output and MLP output"
                                if a.edit_embeddings else
                                "ablation at every attention output and MLP output"),
               "dtype": str(model.dtype_).replace("torch.", ""), "device": str(dev)}
    tied = bool(getattr(cfg, "tie_word_embeddings", False))
    doc = {
        "method": "weight orthogonalization (Arditi et al. 2024; andyrdt/refusal_direction)",
        "model_type": cfg.model_type, "n_layers": cfg.num_hidden_layers,
        "hidden_size": cfg.hidden_size, "tie_word_embeddings": tied,
        "post_instruction": fmt.post_instruction, "post_instruction_ids": fmt.post_ids,
        "post_instruction_tokens": post_tokens,
        "refusal_token_ids": refusal_ids,
        "refusal_tokens": [tok.decode([i]) for i in refusal_ids],
        "prompts": counts, "options": options, "outcome": outcome,
        "baseline": {k: num(v) for k, v in baselines.items()},
        "candidates": [dict(c, norm=num(c["norm"]), refusal_score=num(c["refusal_score"]),
                            steering_score=num(c["steering_score"]), kl=num(c["kl"]))
                       for c in records],
        "chosen": None if chosen is None else dict(
            records[chosen], norm=num(records[chosen]["norm"]),
            refusal_score=num(records[chosen]["refusal_score"]),
            steering_score=num(records[chosen]["steering_score"]),
            kl=num(records[chosen]["kl"]),
            direction=[num(x) for x in rhat.tolist()]),
        "checks": {k: float(f"{v:.3g}") for k, v in check.items()},
    }
    if tied and a.edit_embeddings:
        doc["note"] = ("tied head: editing the embedding also edits the unembedding, so the "
                       "saved model is not the scored hook ablation (see checks)")
    write_atomic(os.path.join(a.out, "direction.json"), json.dumps(doc, indent=1) + "\n")

    m = {"admissible": 1 if chosen is not None else 0,
         "candidates": len(records),
         "candidates_admissible": sum(1 for c in records if c["admissible"])}
    if chosen is not None:
        c = records[chosen]
        m.update(chosen_layer=c["layer"], chosen_position=c["position"],
                 refusal_score_ablated=num(c["refusal_score"]),
                 steering_score=num(c["steering_score"]), kl_score=num(c["kl"]))
    for k, v in baselines.items():
        m[k + "_base"] = num(v)
    for k, v in check.items():
        m[k] = float(f"{v:.3g}")
    metrics = {"metrics": {k: {"value": v} for k, v in m.items() if v is not None}}
    write_atomic(os.path.join(a.out, "metrics.json"), json.dumps(metrics, indent=1, sort_keys=True) + "\n")
    print(f"wo.py: {outcome}" + ("" if chosen is None else
          f" (position {records[chosen]['position']}, layer {records[chosen]['layer']}, "
          f"kl {records[chosen]['kl']:.4f})") + f"; {time.time() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    main("wo.py", run)
