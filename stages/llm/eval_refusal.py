#!/usr/bin/env python3
"""eval_refusal: the refusal evaluation of a model variant on a local prompt
file: greedy completions of every prompt (batched, left-padded, KV cache;
llmkit.model.generate), each judged refusal / compliant / other
(llmkit.judge: refusal-phrase matching plus a compliance check), and the
rates with 95% Wilson intervals.

usage: eval_refusal.py --model DIR [--base DIR] --prompts FILE.jsonl --out DIR
         [--task harmful|harmless] [--name NAME] [--variant V]
         [--evaluation NAME] [--max-new-tokens 32] [--batch-size 16]
         [--limit N] [--match-answer] [--chat-kwargs JSON] [--device cpu|cuda]
         [--dtype float32|bfloat16|float16]

--model      a checkpoint directory, or a WO recipe (then --base is the base
             checkpoint it applies to; llmkit/variant.py)
--prompts    JSON lines {"prompt" (or "instruction"), "category"?, "answer"?}
--task       harmful (default): metrics refusal_rate, compliance_rate,
             other_rate; harmless: over_refusal_rate, benign_compliance_rate,
             benign_other_rate
--match-answer  compliance means the reference "answer" occurs in the
             completion (else: a non-degenerate, non-refusing completion)
Writes completions.jsonl ({id, prompt, category, completion, label,
new_tokens}, every prompt, in file order) and metrics.json (top-level model,
variant, evaluation; rates with n, k, ci_low, ci_high).
"""
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the tree (the study hashes the sources)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llmkit.errors import KitError  # noqa: E402
from llmkit.runtime import main, setup_torch, write_atomic  # noqa: E402

NAMES = {"harmful": ("refusal_rate", "compliance_rate", "other_rate"),
         "harmless": ("over_refusal_rate", "benign_compliance_rate", "benign_other_rate")}


def run():
    import argparse
    import torch
    from llmkit import judge as J
    from llmkit import variant as V

    ap = argparse.ArgumentParser(prog="eval_refusal.py", description="refusal evaluation")
    ap.add_argument("--model", required=True)
    ap.add_argument("--base", default=None)
    ap.add_argument("--prompts", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--task", choices=tuple(NAMES), default="harmful")
    ap.add_argument("--name", default=None)
    ap.add_argument("--variant", default="base")
    ap.add_argument("--evaluation", default=None)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--match-answer", action="store_true")
    ap.add_argument("--chat-kwargs", default="{}")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default=None)
    a = ap.parse_args()
    try:
        kw = json.loads(a.chat_kwargs)
        if not isinstance(kw, dict):
            raise ValueError("not an object")
    except ValueError as e:
        raise KitError(f"--chat-kwargs: not a JSON object ({e})")
    if a.max_new_tokens < 1:
        raise KitError("--max-new-tokens: must be at least 1")

    dev = setup_torch(a.device)
    rows = V.read_prompts(a.prompts, need_answer=a.match_answer)
    if a.limit is not None:
        rows = rows[:a.limit]
    tok, fmt = V.open_prompting(a.model, kw)
    model, cfg = V.load_model(a.model, base=a.base,
                              dtype=getattr(torch, a.dtype) if a.dtype else None, device=dev)
    eos = V.eos_ids(cfg, tok, a.model)
    prompts = [fmt.encode(r["prompt"]) for r in rows]
    with torch.no_grad():
        outs = model.generate(prompts, max_new_tokens=a.max_new_tokens, eos_ids=sorted(eos),
                              pad_id=V.pad_id(tok, eos), batch_size=a.batch_size)
    if len(outs) != len(rows):
        raise KitError(f"generate returned {len(outs)} completions for {len(rows)} prompts")
    counts = dict.fromkeys(J.LABELS, 0)
    lines = []
    for i, (r, new) in enumerate(zip(rows, outs)):
        new = [t for t in new if t not in eos]
        text = tok.decode(new, skip_special_tokens=True)
        label = J.judge(text, r["answer"] if a.match_answer else None)
        counts[label] += 1
        lines.append(json.dumps({"id": i + 1, "prompt": r["prompt"], "category": r["category"],
                                 "completion": text, "label": label, "new_tokens": len(new)},
                                ensure_ascii=False, sort_keys=True) + "\n")
    n = len(rows)
    names = NAMES[a.task]
    metrics = {names[0]: J.rate(counts["refusal"], n),
               names[1]: J.rate(counts["compliant"], n),
               names[2]: J.rate(counts["other"], n)}
    os.makedirs(a.out, exist_ok=True)
    write_atomic(os.path.join(a.out, "completions.jsonl"), "".join(lines))
    doc = {"model": a.name or os.path.basename(os.path.normpath(a.model)),
           "variant": a.variant, "evaluation": a.evaluation or f"refusal_{a.task}",
           "metrics": metrics}
    write_atomic(os.path.join(a.out, "metrics.json"), json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"eval_refusal.py: {a.task}: " + ", ".join(f"{k} {v}/{n}" for k, v in counts.items()),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    main("eval_refusal.py", run)
