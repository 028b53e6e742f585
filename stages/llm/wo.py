#!/usr/bin/env python3
"""wo: weight orthogonalization of a real checkpoint (Arditi et al. 2024, as
andyrdt/refusal_direction does it; method and pitfalls in llmkit/wo.py and
docs/real-models.md).

usage: wo.py --model DIR --data DIR --out DIR [options]

--model DIR        a checkpoint directory (llama, qwen2, qwen3), or a WO
                   recipe (then --base DIR is the checkpoint it applies to;
                   only with --output checkpoint)
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
--device cpu|cuda|cuda:N, --dtype float32|bfloat16|float16 (default: the
                   checkpoint's; float16 on CPU computes in float32, torch has
                   no CPU float16 matmul; the checkpoint is saved in its dtype)
--batch-size 32, --seed 0
Every input is checked before the model is loaded: --model, --data's four
files, --out (a new or empty directory; the output is built in --out.tmpPID
next to it and renamed in at the end, removed on failure), numeric ranges.

Writes into --out: the model (checkpoint files, or wo_recipe.json +
direction.safetensors + tokenizer files), direction.json (every candidate's
scores and the filters that removed it, the chosen one or the outcome "no
admissible direction", every option), metrics.json (the orchestrator's
format). Both output forms are loaded back and checked against the scored
hook ablation (checks: saved_vs_hook_max_abs_logit_diff,
max_write_along_direction). With no admissible direction the stage succeeds
and the model is the input model unchanged (metrics.json: admissible 0). A
base model that refuses fewer than max(2, 10%) of a harmful split's sampled
prompts (or answers too few harmless ones) is an error, not that result: it
is almost always prompted wrongly (a Qwen3 model without enable_thinking
false in prompting.json / --chat-kwargs).
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
from llmkit.runtime import json_object_arg, main, setup_torch, write_atomic  # noqa: E402

DTYPES = ("float32", "bfloat16", "float16")
SPLITS = ("wo_harmful", "wo_harmless", "wo_val_harmful", "wo_val_harmless")
# fewest prompts a split may keep after the refusal-score filter: fewer
# means the base model is prompted wrongly (or does not refuse), not that
# no direction exists
MIN_KEPT = 2
MIN_KEPT_SHARE = 0.1


def parse():
    from llmkit.runtime import check_device, need, parser
    ap = parser("wo.py", __doc__)
    ap.add_argument("--model", required=True, help="checkpoint directory, or a WO recipe "
                    "(then --base)")
    ap.add_argument("--base", default=None, help="the base checkpoint of a WO recipe --model")
    ap.add_argument("--data", required=True, help="directory of the four wo_*.jsonl splits")
    ap.add_argument("--out", required=True, help="output directory (new, or empty)")
    ap.add_argument("--n-train", type=int, default=128, help="prompts sampled per candidate split")
    ap.add_argument("--n-val", type=int, default=32, help="prompts sampled per selection split")
    ap.add_argument("--no-filter", action="store_true",
                    help="keep every prompt (no refusal-score filter)")
    ap.add_argument("--kl-max", type=float, default=0.1,
                    help="largest KL on harmless prompts under ablation (>= 0)")
    ap.add_argument("--prune", type=float, default=0.2,
                    help="share of the last layers excluded, in [0, 1)")
    ap.add_argument("--steer-min", type=float, default=0.0,
                    help="smallest steering score (refusal score under activation addition)")
    ap.add_argument("--edit-embeddings", action="store_true",
                    help="also orthogonalize the token embedding")
    ap.add_argument("--output", choices=("checkpoint", "recipe"), default="checkpoint",
                    help="full WO checkpoint, or direction + recipe")
    ap.add_argument("--chat-kwargs", default="{}",
                    help="JSON object of chat-template variables over prompting.json")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--dtype", choices=DTYPES, default=None,
                    help="compute dtype (default: the checkpoint's; float16 on CPU "
                    "computes in float32)")
    ap.add_argument("--batch-size", type=int, default=32, help="prompts per forward pass")
    ap.add_argument("--seed", type=int, default=0, help="seed of the prompt samples")
    a = ap.parse_args()
    a.chat_kwargs = json_object_arg("chat-kwargs", a.chat_kwargs)
    need("n-train", a.n_train, lo=1)
    need("n-val", a.n_val, lo=1)
    need("batch-size", a.batch_size, lo=1)
    need("kl-max", a.kl_max, lo=0)
    need("prune", a.prune, lo=0, hi=1, hi_open=True)
    need("steer-min", a.steer_min)
    check_device(a.device)
    return a


def num(x):
    """A JSON-safe float (NaN -> None), rounded for stable text."""
    return None if x != x else round(float(x), 6)


def run():
    from llmkit import variant as V
    from llmkit.runtime import check_out, finish_out

    # every input checked before a model is loaded (loading an 8B takes minutes)
    a = parse()
    t0 = time.time()
    V.check_variant_dir(a.model)
    if V.is_recipe(a.model):
        if a.base is None:
            raise KitError(f"--model: '{a.model}' is a WO recipe; give its base checkpoint "
                           "with --base")
        V.check_variant_dir(a.base, "--base")
        if V.is_recipe(a.base):
            raise KitError(f"--base: '{a.base}' is itself a WO recipe; give a checkpoint")
        if a.output == "recipe":
            raise KitError("--output recipe: a recipe of a recipe is not supported; "
                           "use --output checkpoint")
    elif a.base is not None:
        raise KitError(f"--base: only for a WO recipe --model ('{a.model}' is a checkpoint)")
    if not os.path.isdir(a.data):
        raise KitError(f"--data: '{a.data}': directory does not exist")
    rows_of = {name: V.read_prompts(os.path.join(a.data, name + ".jsonl")) for name in SPLITS}
    tmp = check_out(a.out)

    import torch
    from llmkit import wo as W
    from llmkit.safetensors import write_safetensors

    dev = setup_torch(a.device)
    dtype = getattr(torch, a.dtype) if a.dtype else None
    tok, fmt = V.open_prompting(a.model, a.chat_kwargs)
    model, cfg = V.load_model(a.model, base=a.base, dtype=dtype, device=dev)
    eos = V.eos_ids(cfg, tok, a.model)
    pad = V.pad_id(tok, eos)
    refusal_ids = W.refusal_token_ids(tok)

    splits = {}
    for name in SPLITS:
        n = a.n_val if "_val_" in name else a.n_train
        splits[name] = [fmt.encode(r["prompt"]) for r in W.sample(rows_of[name], n, a.seed)]
    counts = {k: {"sampled": len(v)} for k, v in splits.items()}
    if not a.no_filter:
        for name, seqs in splits.items():
            logits, _ = W.forward_last(model, seqs, pad, batch_size=a.batch_size)
            s = W.refusal_scores(logits, refusal_ids)
            keep = (s > 0) if name.endswith("harmful") else (s < 0)
            splits[name] = [q for q, k in zip(seqs, keep.tolist()) if k]
    for k in counts:
        counts[k]["used"] = len(splits[k])
        least = max(MIN_KEPT, int(MIN_KEPT_SHARE * counts[k]["sampled"] + 0.999))
        if counts[k]["used"] < min(least, counts[k]["sampled"]):
            what = ("refuses (refusal score > 0)" if k.endswith("harmful") else
                    "does not refuse (refusal score < 0)")
            raise KitError(
                f"{os.path.join(a.data, k + '.jsonl')}: the base model {what} only "
                f"{counts[k]['used']} of {counts[k]['sampled']} sampled prompts (at least "
                f"{least} needed): it is probably prompted wrongly, e.g. a Qwen3 checkpoint "
                "without {\"enable_thinking\": false} (prompting.json or --chat-kwargs) opens "
                "its reply with <think>; or it does not refuse these prompts (--no-filter "
                "keeps every prompt)")

    n_post = len(fmt.post_ids)
    post_tokens = [tok.decode([i]) for i in fmt.post_ids]
    records, chosen, baselines, cands = [], None, {}, None
    cands = W.candidate_directions(model, splits["wo_harmful"], splits["wo_harmless"],
                                   n_post, pad, a.batch_size)
    records, chosen, baselines = W.select_direction(
        model, cands, post_tokens, splits["wo_val_harmful"], splits["wo_val_harmless"],
        refusal_ids, pad, edit_embeddings=a.edit_embeddings, kl_max=a.kl_max,
        prune=a.prune, steer_min=a.steer_min, batch_size=a.batch_size)
    outcome = "chosen" if chosen is not None else \
        "no admissible direction: every candidate was filtered out"

    # the model: edited with the chosen direction, or the input unchanged;
    # everything is written into tmp (next to --out) and renamed in at the end
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
        V.save_into(tmp, cfg, tensors, copy_from=a.model)
        del tensors
    else:
        for name in V.TOKENIZER_FILES:
            src = os.path.join(a.model, name)
            if os.path.isfile(src):
                shutil.copyfile(src, os.path.join(tmp, name))
        if rhat is not None:
            write_safetensors(os.path.join(tmp, "direction.safetensors"),
                              {"direction": rhat.cpu().contiguous()},
                              {"format": "llmkit-wo-direction"})
        recipe = {"format": "llmkit-wo-recipe", "version": 1,
                  "edit_embeddings": bool(a.edit_embeddings),
                  "writers": W.writer_names(cfg, a.edit_embeddings) if rhat is not None else [],
                  "direction": "direction.safetensors" if rhat is not None else None,
                  "base": V.base_identity(a.model)}
        write_atomic(os.path.join(tmp, V.RECIPE), json.dumps(recipe, indent=1, sort_keys=True) + "\n")
    if rhat is not None:
        # the same checks in both output forms: the written variant, loaded
        # back as the evaluations load it (a recipe is materialised from the
        # base), against the scored hook intervention
        saved, _ = V.load_model(tmp, base=a.model if a.output == "recipe" else None,
                                dtype=model.dtype_, device=dev)
        if a.output == "recipe":
            sv = {n: p.detach() for n, p in saved.state_dict().items()}
            check["max_write_along_direction"] = W.max_write_along(cfg, sv, rhat,
                                                                   a.edit_embeddings)
            del sv
        probe = splits["wo_val_harmless"] + splits["wo_val_harmful"]
        l_saved, _ = W.forward_last(saved, probe, pad, batch_size=a.batch_size)
        l_hook, _ = W.forward_last(model, probe, pad,
                                   W.Intervention.ablate(rhat, a.edit_embeddings),
                                   a.batch_size)
        check["saved_vs_hook_max_abs_logit_diff"] = float((l_saved - l_hook).abs().max())
        del saved

    options = {"n_train": a.n_train, "n_val": a.n_val, "filter": not a.no_filter,
               "kl_max": a.kl_max, "prune": a.prune, "steer_min": a.steer_min,
               "edit_embeddings": a.edit_embeddings, "output": a.output,
               "chat_kwargs": fmt.kw, "seed": a.seed, "base": a.base,
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
    write_atomic(os.path.join(tmp, "direction.json"), json.dumps(doc, indent=1) + "\n")

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
    write_atomic(os.path.join(tmp, "metrics.json"), json.dumps(metrics, indent=1, sort_keys=True) + "\n")
    finish_out(tmp, a.out)
    print(f"wo.py: {outcome}" + ("" if chosen is None else
          f" (position {records[chosen]['position']}, layer {records[chosen]['layer']}, "
          f"kl {records[chosen]['kl']:.4f})") + f"; {time.time() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    main("wo.py", run)
