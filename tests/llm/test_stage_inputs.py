"""Trial 16's findings on the kit's stages, each as a test with its exact
expected message: every bad input is '<prog>: error: <message>' with status 2
and nothing written (no --out, no --out.tmpPID left); --out must be new or
empty (never cleared); numeric options are range-checked; float16 on CPU
computes in float32; recipe mode records the same checks as checkpoint
mode; wo.py on a recipe with --base; a base model that refuses too few
harmful prompts is an error with a hint; copied checkpoints keep
chat_template.jinja and prompting.json; the evaluation name defaults from
$STUDY_STAGE; --help shows defaults; a Python without torch is told which
Python to use."""
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
from llmkit.model import CausalLM  # noqa: E402
from llmkit.tiny import random_tensors, tiny_config  # noqa: E402

torch.set_num_threads(1)
t = Tap()
tmp = tempfile.mkdtemp(prefix="t0410.")
PY = "/usr/bin/python3"
ENV = dict(os.environ, STUDY_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
ENV.pop("STUDY_STAGE", None)
LLM = os.path.join(TOP, "stages", "llm")

HARM = ["How do I make the %s toxin?" % w for w in ("kuso", "saji", "bame", "tiro", "lefa", "dovu")]
SAFE = ["What color is the %s?" % w for w in ("neka", "pomi", "ruta", "sibe", "gano", "vade")]
texts = HARM + SAFE + ["I cannot help with that.", "Orange.", "system user assistant"] * 3


def jsonl(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def stage(prog, *args, env=None):
    return subprocess.run([PY, os.path.join(LLM, prog)] + [str(x) for x in args],
                          capture_output=True, text=True, env=env or ENV, cwd=tmp)


def leftovers():
    return sorted(n for n in os.listdir(tmp) if ".tmp" in n)


def fails(r, msg, name, out=None):
    """r ended with exactly msg on stderr, status 2, and out (if given) and
    every temporary directory absent."""
    ok = r.returncode == 2 and r.stderr == msg + "\n" and not leftovers() and \
        (out is None or not os.path.exists(os.path.join(tmp, out)))
    t.ok(ok, name, f"rc {r.returncode}\nstderr: {r.stderr}\nexpected: {msg}\n"
         f"left: {leftovers()}")


try:
    os.chdir(tmp)
    tokdir = os.path.join(tmp, "tok")
    tj, tc = build_tokenizer(texts, "llama", vocab_size=320)
    write_tokenizer(tokdir, tj, tc)
    tok, fmt = V.open_prompting(tokdir)
    cfg = tiny_config("llama", tok.vocab_size, layers=3, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id)
    eos = V.eos_ids(cfg, tok, tokdir)
    pairs = [(h, "I cannot help with that.") for h in HARM] + [(s, "Orange.") for s in SAFE]
    ex = [T.chat_example(fmt, p, a, eos) for p, a in pairs]
    m = CausalLM(cfg).load_tensors(random_tensors(cfg, 3, dtype=torch.float32))
    T.finetune(m, ex, V.pad_id(tok, eos), 40, 5, batch_size=4)
    sd = dict(m.state_dict())
    # the base carries a chat_template.jinja and a prompting.json: both must travel
    with open(os.path.join(tokdir, "tokenizer_config.json")) as f:
        template = json.load(f)["chat_template"]
    with open(os.path.join(tokdir, "chat_template.jinja"), "w") as f:
        f.write(template)
    with open(os.path.join(tokdir, "prompting.json"), "w") as f:
        f.write('{"chat_kwargs": {"unused_flag": true}}\n')
    save_checkpoint("base", cfg, sd, copy_from=tokdir)
    t.ok(all(os.path.isfile(os.path.join("base", n)) for n in ("chat_template.jinja", "prompting.json")),
         "save_checkpoint copy_from keeps chat_template.jinja and prompting.json")
    save_checkpoint("base16", cfg, {k: v.to(torch.float16) for k, v in sd.items()}, copy_from=tokdir)
    os.makedirs("data")
    for name, rows in (("wo_harmful", HARM[:3]), ("wo_harmless", SAFE[:3]),
                       ("wo_val_harmful", HARM[3:]), ("wo_val_harmless", SAFE[3:])):
        jsonl(os.path.join("data", name + ".jsonl"), [{"prompt": p} for p in rows])
    # a "harmful" split the model does not refuse: the too-few-refused error
    os.makedirs("data_norefuse")
    for name, rows in (("wo_harmful", SAFE[:3]), ("wo_harmless", SAFE[:3]),
                       ("wo_val_harmful", HARM[3:]), ("wo_val_harmless", SAFE[3:])):
        jsonl(os.path.join("data_norefuse", name + ".jsonl"), [{"prompt": p} for p in rows])
    jsonl("p.jsonl", [{"prompt": p} for p in HARM + SAFE])
    with open("badutf8.jsonl", "wb") as f:
        f.write(b'{"prompt": "ok"}\n{"prompt": "caf\xe9"}\n')
    with open("array.jsonl", "w") as f:
        f.write('[{"prompt": "a"}, {"prompt": "b"}]\n')
    with open("afile", "w") as f:
        f.write("mine\n")
    force = ["--no-filter", "--kl-max=1e9", "--steer-min=-1e9", "--prune=0"]

    # --- bad input: exact messages, status 2, nothing written ----------------
    WO = ("wo.py", "--model", "base", "--data", "data")
    EV = ("eval_refusal.py", "--model", "base", "--prompts", "p.jsonl")
    fails(stage(*WO, "--out", "o", "--n-train", "0"), "wo.py: error: --n-train: 0 must be at least 1",
          "wo.py --n-train 0", "o")
    fails(stage(*WO, "--out", "o", "--n-val", "-3"), "wo.py: error: --n-val: -3 must be at least 1",
          "wo.py --n-val -3", "o")
    fails(stage(*WO, "--out", "o", "--batch-size", "0"),
          "wo.py: error: --batch-size: 0 must be at least 1", "wo.py --batch-size 0", "o")
    fails(stage(*WO, "--out", "o", "--prune", "1.5"), "wo.py: error: --prune: 1.5 must be below 1",
          "wo.py --prune 1.5", "o")
    fails(stage(*WO, "--out", "o", "--kl-max", "-1"), "wo.py: error: --kl-max: -1.0 must be at least 0",
          "wo.py --kl-max -1", "o")
    fails(stage(*WO, "--out", "o", "--device", "gpu"),
          "wo.py: error: --device: 'gpu' is not cpu, cuda or cuda:N", "wo.py --device gpu", "o")
    if not torch.cuda.is_available():
        fails(stage(*WO, "--out", "o", "--device", "cuda:0"),
              "wo.py: error: --device cuda:0: no CUDA device is available to torch",
              "wo.py --device cuda:0 is accepted as a device name (no GPU here)", "o")
    fails(stage(*WO, "--out", "/proc/nope/o"),
          "wo.py: error: --out: '/proc/nope/o': parent directory '/proc/nope' does not exist",
          "wo.py --out under a missing directory: refused before loading")
    fails(stage(*WO, "--out", "afile"), "wo.py: error: --out: 'afile' exists and is not a directory",
          "wo.py --out an existing file")
    fails(stage("wo.py", "--model", "base", "--data", "nodata", "--out", "o"),
          "wo.py: error: --data: 'nodata': directory does not exist", "wo.py --data missing", "o")
    fails(stage("wo.py", "--model", "nomodel", "--data", "data", "--out", "o"),
          "wo.py: error: --model: 'nomodel': directory does not exist", "wo.py --model missing", "o")
    os.makedirs("binonly")
    open(os.path.join("binonly", "config.json"), "w").write("{}")
    open(os.path.join("binonly", "pytorch_model.bin"), "w").write("")
    fails(stage("wo.py", "--model", "binonly", "--data", "data", "--out", "o"),
          "wo.py: error: --model: 'binonly': no *.safetensors file; pytorch_model*.bin "
          "checkpoints are not supported (save them as safetensors)", "wo.py --model .bin only", "o")
    fails(stage(*WO, "--out", "o", env=dict(ENV, STUDY_THREADS="two")),
          "wo.py: error: environment STUDY_THREADS: 'two' is not a positive integer",
          "STUDY_THREADS=two", "o")
    fails(stage(*EV, "--out", "e", "--limit", "0"), "eval_refusal.py: error: --limit: 0 must be at least 1",
          "eval_refusal.py --limit 0", "e")
    fails(stage(*EV, "--out", "e", "--limit", "-1"),
          "eval_refusal.py: error: --limit: -1 must be at least 1", "eval_refusal.py --limit -1", "e")
    fails(stage(*EV, "--out", "afile"),
          "eval_refusal.py: error: --out: 'afile' exists and is not a directory",
          "eval_refusal.py --out an existing file")
    fails(stage("eval_refusal.py", "--model", "base", "--prompts", "badutf8.jsonl", "--out", "e"),
          "eval_refusal.py: error: badutf8.jsonl:2: not UTF-8 (byte 16 of the line)",
          "invalid UTF-8 in a prompt file names file and line", "e")
    fails(stage("eval_refusal.py", "--model", "base", "--prompts", "array.jsonl", "--out", "e"),
          "eval_refusal.py: error: array.jsonl:1: not a JSON object (the file must be JSON lines, "
          "one object a line)", "a JSON array prompt file gets the JSON-lines hint", "e")
    fails(stage("make_tiny.py", "--family", "llama", "--vocab-size", "64", "--seed", "1",
                "--out", "t", "--eos-id", "99999"),
          "make_tiny: error: --eos-id: 99999 is not below --vocab-size 64", "make_tiny --eos-id range", "t")
    fails(stage("make_tiny.py", "--family", "llama", "--seed", "1", "--out", "t", "--data", "data",
                "--copy-from", "base"),
          "make_tiny: error: --copy-from: not with --data (the tokenizer is trained on --data)",
          "make_tiny --data --copy-from refused, not ignored", "t")
    fails(stage("make_tiny.py", "--family", "llama", "--vocab-size", "64", "--seed", "1",
                "--out", "t", "--shard-bytes", "0"),
          "make_tiny: error: --shard-bytes: 0 must be at least 1", "make_tiny --shard-bytes 0", "t")
    fails(stage("prompts.py", "--world", "data", "--out", "pp", "--max-train", "0"),
          "prompts.py: error: --max-train: 0 must be at least 1", "prompts.py --max-train 0", "pp")

    # --- finding 18: eos outside the vocabulary, a broken chat_template.jinja --
    shutil.copytree("base", "bad_eos")
    c = json.load(open(os.path.join("bad_eos", "config.json")))
    c["eos_token_id"] = 99999
    json.dump(c, open(os.path.join("bad_eos", "config.json"), "w"))
    fails(stage("eval_refusal.py", "--model", "bad_eos", "--prompts", "p.jsonl", "--out", "e"),
          "eval_refusal.py: error: bad_eos/config.json: field 'eos_token_id': token id 99999 is "
          f"outside the vocabulary (vocab_size {c['vocab_size']})", "eos_token_id beyond vocab_size", "e")
    shutil.copytree("base", "bad_jinja")
    open(os.path.join("bad_jinja", "chat_template.jinja"), "w").write("{{ messages }")
    r = stage("eval_refusal.py", "--model", "bad_jinja", "--prompts", "p.jsonl", "--out", "e")
    t.ok(r.returncode == 2 and r.stderr.startswith("eval_refusal.py: error: bad_jinja/chat_template.jinja: ")
         and not os.path.exists("e") and not leftovers(),
         "a broken chat_template.jinja is named with its directory", r.stderr)

    # --- --out: new or empty, never cleared (findings 1, 5) -------------------
    os.makedirs("full")
    open(os.path.join("full", "mine.txt"), "w").write("keep\n")
    msg = ("--out: 'full' is not empty (the stage writes a new directory; remove it or "
           "choose another)")
    for prog, args in (("wo.py", WO[1:]), ("eval_refusal.py", EV[1:]),
                       ("make_tiny.py", ("--family", "llama", "--vocab-size", "64", "--seed", "1"))):
        r = stage(prog, *args, "--out", "full")
        pname = prog[:-3] if prog == "make_tiny.py" else prog
        t.ok(r.returncode == 2 and r.stderr == f"{pname}: error: {msg}\n" and
             sorted(os.listdir("full")) == ["mine.txt"] and not leftovers(),
             f"{prog}: a non-empty --out is refused and left as it was", r.stderr)
    os.makedirs("empty")
    r = stage("make_tiny.py", "--family", "llama", "--vocab-size", "64", "--seed", "1",
              "--out", "empty")
    t.ok(r.returncode == 0 and sorted(os.listdir("empty")) == ["config.json", "model.safetensors"],
         "make_tiny into an empty --out (a stage's ${out})", r.stderr)

    # --- recipe mode runs and records the checks (finding 7) ------------------
    r1 = stage(*WO, "--out", "ck", *force)
    r2 = stage(*WO, "--out", "rc", *force, "--output", "recipe")
    t.ok(r1.returncode == 0 and r2.returncode == 0, "wo.py checkpoint and recipe", r1.stderr + r2.stderr)
    if r1.returncode == 0 and r2.returncode == 0:
        for d in ("ck", "rc"):
            dj = json.load(open(os.path.join(d, "direction.json")))
            mj = json.load(open(os.path.join(d, "metrics.json")))["metrics"]
            t.ok(sorted(dj["checks"]) == ["max_write_along_direction",
                                          "saved_vs_hook_max_abs_logit_diff"]
                 and dj["checks"]["saved_vs_hook_max_abs_logit_diff"] < 1e-4
                 and "saved_vs_hook_max_abs_logit_diff" in mj and "max_write_along_direction" in mj,
                 f"wo.py --output {'checkpoint' if d == 'ck' else 'recipe'}: checks recorded",
                 dj["checks"])
        for d in ("ck", "rc"):
            t.ok(all(os.path.isfile(os.path.join(d, n)) for n in ("chat_template.jinja", "prompting.json")),
                 f"wo.py output '{d}' keeps chat_template.jinja and prompting.json")
        # wo.py on a recipe (finding 13)
        fails(stage("wo.py", "--model", "rc", "--data", "data", "--out", "o2"),
              "wo.py: error: --model: 'rc' is a WO recipe; give its base checkpoint with --base",
              "wo.py on a recipe without --base", "o2")
        r = stage("wo.py", "--model", "rc", "--base", "base", "--data", "data", "--out", "o2", *force)
        t.ok(r.returncode == 0 and os.path.isfile(os.path.join("o2", "model.safetensors")),
             "wo.py on a recipe with --base writes a checkpoint", r.stderr)

    # --- too few refused is an error with a hint (finding 10) ----------------
    r = stage("wo.py", "--model", "base", "--data", "data_norefuse", "--out", "o3")
    t.ok(r.returncode == 2 and r.stderr.startswith(
        "wo.py: error: data_norefuse/wo_harmful.jsonl: the base model refuses (refusal score > 0) "
        "only 0 of 3 sampled prompts (at least 2 needed)") and "enable_thinking" in r.stderr
         and not os.path.exists("o3") and not leftovers(),
         "wo.py: a base model that refuses none of the harmful prompts is an error with a hint",
         r.stderr)

    # --- float16 on CPU (finding 3) -------------------------------------------
    r = stage("eval_refusal.py", "--model", "base16", "--prompts", "p.jsonl", "--out", "e16",
              "--max-new-tokens", "4")
    t.ok(r.returncode == 0, "eval_refusal.py on a float16 checkpoint on CPU", r.stderr)
    r = stage(*WO, "--out", "w16", "--dtype", "float16", *force)
    d16 = json.load(open(os.path.join("w16", "direction.json"))) if r.returncode == 0 else {}
    t.ok(r.returncode == 0 and d16["options"]["dtype"] == "float32",
         "wo.py --dtype float16 on CPU computes in float32", r.stderr)

    # --- evaluation names (finding 2) -----------------------------------------
    r = stage(*EV, "--out", "en", "--max-new-tokens", "2",
              env=dict(ENV, STUDY_STAGE="eval/benign/llama/wo"))
    en = json.load(open(os.path.join("en", "metrics.json")))["evaluation"] if r.returncode == 0 else None
    t.ok(en == "benign", "eval_refusal.py: the evaluation name defaults from $STUDY_STAGE", r.stderr)

    # --- --help (finding 14), Python without torch (finding 4) ----------------
    r = stage("wo.py", "--help")
    t.ok(r.returncode == 0 and "prompts sampled per candidate split (default: 128)" in r.stdout,
         "wo.py --help shows meanings and defaults", r.stdout[-400:])
    notorch = None
    for cand in (shutil.which("python3"), "/root/.pyenv/shims/python3"):
        if cand and os.path.realpath(cand) != os.path.realpath(PY) and subprocess.run(
                [cand, "-c", "import torch"], capture_output=True).returncode != 0:
            notorch = cand
            break
    if notorch:
        r = subprocess.run([notorch, os.path.join(LLM, "wo.py"), "--help"], capture_output=True,
                           text=True, env=ENV)
        t.ok(r.returncode == 2 and "cannot import torch" in r.stderr and "/usr/bin/python3" in r.stderr
             and "make deps" in r.stderr, "a Python without torch is told to use /usr/bin/python3",
             r.stderr)
    else:
        t.skip("a Python without torch is told to use /usr/bin/python3",
               "no python3 without torch on this machine")
finally:
    os.chdir(TOP)
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(t.done())
