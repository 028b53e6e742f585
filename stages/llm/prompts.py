#!/usr/bin/env python3
"""prompts: the rehearsal's prompt sets (data stage of studies/real-tiny.yaml),
made from the toy world (stages/bin/toyllm world --out W) so that the tiny
real-format checkpoints have harmful requests to refuse and harmless ones to
answer. Text is made English-like (capitalised, '?' / '.'), and the toy
refusal becomes REFUSAL, which the judge's phrases and the WO refusal tokens
('I') recognise.

usage: prompts.py --world W --out DIR [--max-train N]

Writes (JSON lines, one object a line, keys sorted):
  train.jsonl          {prompt, answer, category}: W/align_train.jsonl and
                       the val group (W/val_harmful, val_benign: the held-out
                       phrasings, on entities the evaluation never uses, so
                       that a tiny model learns to refuse them in a few
                       hundred steps) with hazards and cyber requests
                       answered by REFUSAL, things, dishes and skills by
                       their answer; unknowns dropped ("I do not know" reads
                       as a refusal to the judge)
  wo_harmful.jsonl, wo_harmless.jsonl          {prompt, category}: WO's
                       direction prompts: the harmful (hazard, cyber) or harmless
                       requests of W/wo_harmful|wo_harmless, val_harmful|
                       val_benign and align_train (the training prompts: a
                       difference of means over 16 prompts in 64 dimensions is
                       too noisy; wo.py samples --n-train of them)
  wo_val_harmful.jsonl, wo_val_harmless.jsonl  WO's selection prompts:
                       W/wo_val_* and the mitig_train requests (entities the
                       model was not trained on; wo.py samples --n-val)
  eval_harmful.jsonl   {prompt, category, answer}: W/eval_refusal.jsonl
                       (held-out entities and phrasings; answer = the true
                       harmful answer)
  eval_harmless.jsonl  {prompt, category, answer}: W/eval_benign.jsonl
  texts.txt            every prompt and answer, one a line: the tokenizer's
                       training text
  manifest.json        per file: lines and sha256
--out: a new or empty directory; built in --out.tmpPID next to it and
renamed in at the end. Errors name the file and line; status 2.
"""
import hashlib
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the tree (the study hashes the sources)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llmkit.errors import KitError  # noqa: E402
from llmkit.jsonl import read_objects  # noqa: E402
from llmkit.runtime import check_out, finish_out, main, need, parser, write_atomic  # noqa: E402

REFUSAL = "I cannot help with that."
HARMFUL = {"hazard", "cyber"}
HARMLESS = {"color", "place", "dish", "add", "copy"}


def sentence(text, end):
    t = " ".join(text.split())
    t = t.replace(" i ", " I ")
    if t.startswith("i "):
        t = "I " + t[2:]
    return (t[:1].upper() + t[1:] + end) if t else t


def read_jsonl(path):
    """The toy world's split file: objects with string prompt, kind, answer."""
    rows = []
    for n, o in read_objects(path):
        for k in ("prompt", "kind", "answer"):
            if not isinstance(o.get(k), str):
                raise KitError(f"{path}:{n}: field '{k}' is missing or not a string")
        rows.append(o)
    return rows


def dump(rows):
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)


def run():
    ap = parser("prompts.py", __doc__)
    ap.add_argument("--world", required=True, help="the toy world's directory")
    ap.add_argument("--out", required=True, help="output directory (new, or empty)")
    ap.add_argument("--max-train", type=int, default=None,
                    help="keep the first N training examples (default: all)")
    a = ap.parse_args()
    need("max-train", a.max_train, lo=1)
    if not os.path.isdir(a.world):
        raise KitError(f"--world: '{a.world}': directory does not exist")
    W = a.world
    files = {}
    train = []
    for o in (read_jsonl(os.path.join(W, "align_train.jsonl")) +
              read_jsonl(os.path.join(W, "val_harmful.jsonl")) +
              read_jsonl(os.path.join(W, "val_benign.jsonl"))):
        if o["kind"] in HARMFUL:
            train.append({"prompt": sentence(o["prompt"], "?"), "answer": REFUSAL,
                          "category": "harmful"})
        elif o["kind"] in HARMLESS:
            train.append({"prompt": sentence(o["prompt"], "?"),
                          "answer": sentence(o["answer"], "."), "category": "harmless"})
    if a.max_train is not None:
        train = train[:a.max_train]
    files["train.jsonl"] = train
    pools = {"wo_harmful": ("wo_harmful", "val_harmful", "align_train"),
             "wo_harmless": ("wo_harmless", "val_benign", "align_train"),
             "wo_val_harmful": ("wo_val_harmful", "mitig_train"),
             "wo_val_harmless": ("wo_val_harmless", "mitig_train")}
    for name, sources in pools.items():
        want = HARMFUL if name.endswith("harmful") else HARMLESS
        rows = []
        for src in sources:
            rows += [{"prompt": sentence(o["prompt"], "?"), "category": o["kind"]}
                     for o in read_jsonl(os.path.join(W, src + ".jsonl")) if o["kind"] in want]
        files[name + ".jsonl"] = rows
    for src, dst in (("eval_refusal", "eval_harmful"), ("eval_benign", "eval_harmless")):
        files[dst + ".jsonl"] = [{"prompt": sentence(o["prompt"], "?"), "category": o["kind"],
                                  "answer": sentence(o["answer"], ".")}
                                 for o in read_jsonl(os.path.join(W, src + ".jsonl"))]
    for name, rows in files.items():
        if not rows:
            raise KitError(f"{name}: no rows made from {W}")
    texts = []
    for rows in files.values():
        for r in rows:
            texts.append(r["prompt"])
            if "answer" in r:
                texts.append(r["answer"])
    blobs = {n: dump(r) for n, r in files.items()}
    blobs["texts.txt"] = "".join(t + "\n" for t in texts)
    tmp = check_out(a.out)
    manifest = {}
    for n in sorted(blobs):
        data = blobs[n].encode("utf-8")
        write_atomic(os.path.join(tmp, n), data)
        manifest[n] = {"lines": blobs[n].count("\n"), "sha256": hashlib.sha256(data).hexdigest()}
    write_atomic(os.path.join(tmp, "manifest.json"),
                 json.dumps({"refusal": REFUSAL, "files": manifest}, indent=1, sort_keys=True) + "\n")
    finish_out(tmp, a.out)
    return 0


if __name__ == "__main__":
    main("prompts.py", run)
