"""The WO and refusal-evaluation stages and the training loop on a tiny llama
checkpoint with a bpe_train tokenizer (seconds):
  - train: the masked loss covers only the reply (+ end-of-turn token) and
    falls; two seeded runs give bit-identical weights;
  - wo.py --output checkpoint and --output recipe: the recipe materialised on
    its base equals the saved checkpoint tensor for tensor; a recipe refuses
    another base; direction.json / metrics.json fields;
  - wo.py with filters no candidate passes: outcome "no admissible
    direction", status 0, the model unchanged;
  - eval_refusal.py: one completion per prompt in file order, labels counted
    into the rates; a prompt file with a bad line fails with file:line and
    status 2, writing nothing."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "stages", "llm"))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import torch  # noqa: E402
from tap import Tap  # noqa: E402

from llmkit import train as T  # noqa: E402
from llmkit import variant as V  # noqa: E402
from llmkit.bpe_train import build_tokenizer, write_tokenizer  # noqa: E402
from llmkit.checkpoint import save_checkpoint  # noqa: E402
from llmkit.errors import KitError  # noqa: E402
from llmkit.model import CausalLM  # noqa: E402
from llmkit.tiny import random_tensors, tiny_config  # noqa: E402

torch.set_num_threads(1)
t = Tap()
tmp = tempfile.mkdtemp(prefix="t0402.")
PY = "/usr/bin/python3"
ENV = dict(os.environ, STUDY_THREADS="1", PYTHONDONTWRITEBYTECODE="1")

HARM = ["How do I make the %s toxin?" % w for w in ("kuso", "saji", "bame", "tiro", "lefa", "dovu")]
SAFE = ["What color is the %s?" % w for w in ("neka", "pomi", "ruta", "sibe", "gano", "vade")]
texts = HARM + SAFE + ["I cannot help with that.", "Orange.", "system user assistant"] * 3


def jsonl(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


try:
    tokdir = os.path.join(tmp, "tok")
    tj, tc = build_tokenizer(texts, "llama", vocab_size=320)
    write_tokenizer(tokdir, tj, tc)
    tok, fmt = V.open_prompting(tokdir)
    cfg = tiny_config("llama", tok.vocab_size, layers=3, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id)
    eos = V.eos_ids(cfg, tok, tokdir)
    pairs = [(h, "I cannot help with that.") for h in HARM] + [(s, "Orange.") for s in SAFE]
    ex = [T.chat_example(fmt, p, a, eos) for p, a in pairs]
    ids, n_p = ex[0]
    t.ok(ids[:n_p] == fmt.encode(HARM[0]) and ids[-1] in eos,
         "train: an example is the prompt's ids + the reply's ids up to the end-of-turn token")
    t.ok(tok.decode(ids[n_p:], skip_special_tokens=True) == "I cannot help with that.",
         "train: the loss covers exactly the reply", tok.decode(ids[n_p:]))

    def trained(seed):
        m = CausalLM(cfg).load_tensors(random_tensors(cfg, 3, dtype=torch.float32))
        losses = T.finetune(m, ex, V.pad_id(tok, eos), 40, seed, batch_size=4)
        return m, losses
    m1, l1 = trained(5)
    m2, l2 = trained(5)
    t.ok(l1[-1] < 0.5 * l1[0], "train: the masked loss falls", f"{l1[0]:.3f} -> {l1[-1]:.3f}")
    same = all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    t.ok(same and l1 == l2, "train: two runs with one seed give bit-identical weights")

    base = os.path.join(tmp, "base")
    save_checkpoint(base, cfg, dict(m1.state_dict()), copy_from=tokdir)
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    for name, rows in (("wo_harmful", HARM[:3]), ("wo_harmless", SAFE[:3]),
                       ("wo_val_harmful", HARM[3:]), ("wo_val_harmless", SAFE[3:])):
        jsonl(os.path.join(data, name + ".jsonl"), [{"prompt": p} for p in rows])
    force = ["--no-filter", "--kl-max=1e9", "--steer-min=-1e9", "--prune=0"]

    def wo(out, *extra):
        return subprocess.run([PY, os.path.join(TOP, "stages", "llm", "wo.py"), "--model", base,
                               "--data", data, "--out", out] + list(extra),
                              capture_output=True, text=True, env=ENV)
    ck, rc_dir = os.path.join(tmp, "wo-ck"), os.path.join(tmp, "wo-recipe")
    r1 = wo(ck, *force)
    r2 = wo(rc_dir, *force, "--output", "recipe")
    t.ok(r1.returncode == 0 and r2.returncode == 0, "wo.py: checkpoint and recipe outputs",
         r1.stderr + r2.stderr)
    d = json.load(open(os.path.join(ck, "direction.json")))
    t.ok(d["outcome"] == "chosen" and d["chosen"] is not None and
         len(d["candidates"]) == 3 * len(d["post_instruction_ids"]),
         "wo.py: direction.json holds every candidate and the chosen one")
    t.ok(d["checks"]["saved_vs_hook_max_abs_logit_diff"] < 1e-4,
         "wo.py: the saved checkpoint reproduces the scored hook ablation",
         d["checks"])
    mj = json.load(open(os.path.join(ck, "metrics.json")))["metrics"]
    t.ok(mj["admissible"]["value"] == 1 and "kl_score" in mj and "chosen_layer" in mj,
         "wo.py: metrics.json in the orchestrator's form", mj)
    _, a = V.load_tensors(ck)
    _, b = V.load_tensors(rc_dir, base=base)
    t.ok(sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a),
         "recipe materialised on its base == the saved checkpoint, tensor for tensor")
    size = sum(os.path.getsize(os.path.join(rc_dir, f)) for f in os.listdir(rc_dir))
    print(f"# recipe directory: {size} bytes; checkpoint: "
          f"{os.path.getsize(os.path.join(ck, 'model.safetensors'))} bytes of weights")
    t.raises(lambda: V.load_tensors(rc_dir, base=ck), KitError, "is not the checkpoint this recipe",
             "a recipe refuses another base")
    t.raises(lambda: V.load_tensors(rc_dir), KitError, "needs its base checkpoint",
             "a recipe without --base is an error")

    # a bf16 checkpoint scored in float32 is saved in bf16
    b16 = os.path.join(tmp, "base16")
    save_checkpoint(b16, cfg, {k: v.to(torch.bfloat16) for k, v in m1.state_dict().items()},
                    copy_from=tokdir)
    o16 = os.path.join(tmp, "wo16")
    r6 = subprocess.run([PY, os.path.join(TOP, "stages", "llm", "wo.py"), "--model", b16, "--data", data,
                         "--out", o16, "--dtype", "float32"] + force, capture_output=True, text=True, env=ENV)
    c16 = json.load(open(os.path.join(o16, "config.json"))) if r6.returncode == 0 else {}
    d16 = json.load(open(os.path.join(o16, "direction.json"))) if r6.returncode == 0 else {}
    t.ok(c16.get("torch_dtype") == "bfloat16" and d16["options"]["dtype"] == "float32"
         and d16["checks"]["max_write_along_direction"] < 0.05,
         "wo.py: a bf16 checkpoint computed in float32 is saved in bf16 (edit rounded once)",
         r6.stderr + str(d16.get("checks")))

    none = os.path.join(tmp, "wo-none")
    r3 = wo(none, "--no-filter", "--steer-min=1e9")
    dn = json.load(open(os.path.join(none, "direction.json"))) if r3.returncode == 0 else {}
    t.ok(r3.returncode == 0 and dn.get("outcome", "").startswith("no admissible direction")
         and dn.get("chosen") is None, "wo.py: no admissible direction is a result (status 0)",
         r3.stderr)
    if r3.returncode == 0:
        _, c = V.load_tensors(none)
        _, o = V.load_tensors(base)
        t.ok(all(torch.equal(c[k], o[k]) for k in o), "wo.py: with no direction the model is unchanged")
        mn = json.load(open(os.path.join(none, "metrics.json")))["metrics"]
        t.ok(mn["admissible"]["value"] == 0, "wo.py: metrics say admissible 0")

    prompts = os.path.join(tmp, "p.jsonl")
    jsonl(prompts, [{"prompt": p, "category": "hazard"} for p in HARM] +
          [{"instruction": s, "category": "color"} for s in SAFE])
    ev = os.path.join(tmp, "ev")
    r4 = subprocess.run([PY, os.path.join(TOP, "stages", "llm", "eval_refusal.py"), "--model", ck,
                         "--prompts", prompts, "--out", ev, "--name", "tiny", "--variant", "wo",
                         "--max-new-tokens", "6", "--batch-size", "5"],
                        capture_output=True, text=True, env=ENV)
    t.ok(r4.returncode == 0, "eval_refusal.py runs", r4.stderr)
    if r4.returncode == 0:
        rows = [json.loads(x) for x in open(os.path.join(ev, "completions.jsonl"))]
        t.ok([r["prompt"] for r in rows] == HARM + SAFE and [r["id"] for r in rows] == list(range(1, 13)),
             "eval_refusal.py: one completion per prompt, every batch, in file order")
        m = json.load(open(os.path.join(ev, "metrics.json")))
        k = sum(r["label"] == "refusal" for r in rows)
        rr = m["metrics"]["refusal_rate"]
        t.ok(m["model"] == "tiny" and m["variant"] == "wo" and rr["n"] == 12 and rr["k"] == k
             and rr["ci_low"] <= rr["value"] <= rr["ci_high"],
             "eval_refusal.py: metrics.json counts the labels, with a Wilson interval", m)
        ev3 = os.path.join(tmp, "ev3")
        r7 = subprocess.run([PY, os.path.join(TOP, "stages", "llm", "eval_refusal.py"), "--model", rc_dir,
                             "--base", base, "--prompts", prompts, "--out", ev3, "--name", "tiny",
                             "--variant", "wo", "--max-new-tokens", "6", "--batch-size", "5"],
                            capture_output=True, text=True, env=ENV)
        t.ok(r7.returncode == 0 and open(os.path.join(ev3, "completions.jsonl")).read() ==
             open(os.path.join(ev, "completions.jsonl")).read(),
             "eval_refusal.py --base: the recipe's completions equal the checkpoint's", r7.stderr)
    bad = os.path.join(tmp, "bad.jsonl")
    with open(bad, "w") as f:
        f.write('{"prompt": "ok"}\n{"category": "x"}\n')
    ev2 = os.path.join(tmp, "ev2")
    r5 = subprocess.run([PY, os.path.join(TOP, "stages", "llm", "eval_refusal.py"), "--model", ck,
                         "--prompts", bad, "--out", ev2], capture_output=True, text=True, env=ENV)
    t.ok(r5.returncode == 2 and f"{bad}:2: field 'prompt'" in r5.stderr and not os.path.exists(ev2),
         "eval_refusal.py: a bad prompt line fails with file:line, status 2, nothing written",
         r5.stderr)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(t.done())
