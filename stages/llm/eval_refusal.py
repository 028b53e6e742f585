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
--evaluation the evaluation's name in metrics.json; give "${evaluation.name}"
             in a study (two evaluations with one name collide in the report);
             default: from $STUDY_STAGE, else refusal_TASK
--limit N    only the first N prompts (N >= 1)
--device cpu|cuda|cuda:N; --dtype: float16 on CPU computes in float32
--out        a new or empty directory; built in --out.tmpPID, renamed in at
             the end (nothing half-written)
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
from llmkit.runtime import (check_device, check_out, finish_out, json_object_arg, main, need,  # noqa: E402
                            parser, setup_torch, write_atomic)

NAMES = {"harmful": ("refusal_rate", "compliance_rate", "other_rate"),
         "harmless": ("over_refusal_rate", "benign_compliance_rate", "benign_other_rate")}


def default_evaluation(task):
    """The evaluation's name when --evaluation is not given: from
    $STUDY_STAGE, the orchestrator's stage id 'eval/EVALUATION/MODEL/VARIANT'
    (pipeline/plan.c), so the name is the study's evaluation name; else
    refusal_TASK."""
    parts = os.environ.get("STUDY_STAGE", "").split("/")
    if len(parts) >= 2 and parts[0] == "eval" and parts[1]:
        return parts[1]
    return f"refusal_{task}"


def run():
    import torch
    from llmkit import judge as J
    from llmkit import variant as V

    ap = parser("eval_refusal.py", __doc__)
    ap.add_argument("--model", required=True, help="checkpoint directory or WO recipe")
    ap.add_argument("--base", default=None, help="the base checkpoint of a WO recipe --model")
    ap.add_argument("--prompts", required=True, help="prompt file (JSON lines)")
    ap.add_argument("--out", required=True, help="output directory (new, or empty)")
    ap.add_argument("--task", choices=tuple(NAMES), default="harmful",
                    help="which metric names (harmful: refusal_rate...; harmless: "
                    "over_refusal_rate...)")
    ap.add_argument("--name", default=None, help="model name in metrics.json (default: "
                    "--model's directory name)")
    ap.add_argument("--variant", default="base", help="variant name in metrics.json")
    ap.add_argument("--evaluation", default=None, help="evaluation name in metrics.json "
                    "(default: the evaluation part of $STUDY_STAGE, else refusal_TASK)")
    ap.add_argument("--max-new-tokens", type=int, default=32, help="tokens generated per prompt")
    ap.add_argument("--batch-size", type=int, default=16, help="prompts per generate batch")
    ap.add_argument("--limit", type=int, default=None, help="evaluate the first N prompts only")
    ap.add_argument("--match-answer", action="store_true",
                    help="compliance = the reference answer occurs in the completion")
    ap.add_argument("--chat-kwargs", default="{}",
                    help="JSON object of chat-template variables over prompting.json")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default=None,
                    help="compute dtype (default: the checkpoint's; float16 on CPU "
                    "computes in float32)")
    a = ap.parse_args()
    kw = json_object_arg("chat-kwargs", a.chat_kwargs)
    need("max-new-tokens", a.max_new_tokens, lo=1)
    need("batch-size", a.batch_size, lo=1)
    need("limit", a.limit, lo=1)
    check_device(a.device)
    V.check_variant_dir(a.model)
    if V.is_recipe(a.model):
        if a.base is None:
            raise KitError(f"--model: '{a.model}' is a WO recipe; give its base checkpoint "
                           "with --base")
        V.check_variant_dir(a.base, "--base")
    rows = V.read_prompts(a.prompts, need_answer=a.match_answer)
    if a.limit is not None:
        rows = rows[:a.limit]
    evaluation = a.evaluation or default_evaluation(a.task)
    tmp = check_out(a.out)

    dev = setup_torch(a.device)
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
    write_atomic(os.path.join(tmp, "completions.jsonl"), "".join(lines))
    doc = {"model": a.name or os.path.basename(os.path.normpath(a.model)),
           "variant": a.variant, "evaluation": evaluation,
           "metrics": metrics}
    write_atomic(os.path.join(tmp, "metrics.json"), json.dumps(doc, indent=1, sort_keys=True) + "\n")
    finish_out(tmp, a.out)
    print(f"eval_refusal.py: {a.task}: " + ", ".join(f"{k} {v}/{n}" for k, v in counts.items()),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    main("eval_refusal.py", run)
