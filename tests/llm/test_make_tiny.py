"""Tests of stages/llm/make_tiny.py: a run gives the same bytes as the same
checkpoint saved in this process (sharded, bf16), the files hold llmkit.tiny's
tensors, and bad usage exits with status 2, a message naming the option, and
no output directory. Run by tests/llm/t0130-make-tiny.sh."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "stages", "llm"))

import torch  # noqa: E402
from tap import Tap  # noqa: E402

from llmkit.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from llmkit.tiny import random_tensors, tiny_config  # noqa: E402

t = Tap()
tmp = tempfile.mkdtemp(prefix="llm-mt-")
PROG = os.path.join(TOP, "stages", "llm", "make_tiny.py")


def run(*args):
    r = subprocess.run([sys.executable, PROG, *args], capture_output=True, text=True)
    return r.returncode, r.stderr


def tree(d):
    out = {}
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            out[name] = f.read()
    return out


rc, e = run("--family", "qwen3", "--vocab-size", "200", "--seed", "4", "--dtype", "bfloat16",
            "--shard-bytes", "30000", "--eos-id", "3", "--out", os.path.join(tmp, "a"))
t.ok(rc == 0, "make_tiny runs", e)
# the same checkpoint made in this process: equal bytes mean the run is
# deterministic across processes and make_tiny passes its options through
cfg = tiny_config("qwen3", 200, eos_token_id=3)
want = random_tensors(cfg, 4, torch.bfloat16)
save_checkpoint(os.path.join(tmp, "b"), cfg, want, max_shard_bytes=30000)
ta, tb = tree(os.path.join(tmp, "a")), tree(os.path.join(tmp, "b"))
t.ok(ta == tb and "model.safetensors.index.json" in ta and len(ta) > 3,
     "make_tiny's files are byte-identical to the same checkpoint saved in another process", sorted(ta))
cfg, got = load_checkpoint(os.path.join(tmp, "a"))
t.ok(set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want)
     and cfg.torch_dtype == "bfloat16" and cfg.eos_token_id == 3,
     "the files hold tiny.random_tensors(seed) in bf16, config as asked")

rc, e = run("--family", "qwen2", "--vocab-size", "0", "--seed", "1", "--out", os.path.join(tmp, "c"))
t.ok(rc == 2 and e == "make_tiny: error: --vocab-size: 0 must be at least 1\n"
     and not os.path.exists(os.path.join(tmp, "c")), "bad size: status 2, message, no output", f"{rc} {e}")
rc, e = run("--family", "llama", "--vocab-size", "50", "--seed", "1", "--kv-heads", "3",
            "--out", os.path.join(tmp, "c"))
t.ok(rc == 2 and e == "make_tiny: error: tiny_config(llama): field 'num_key_value_heads': 3 does not "
     "divide num_attention_heads 4\n" and not os.path.exists(os.path.join(tmp, "c")),
     "inconsistent shape: status 2, the config field named, no output", f"{rc} {e}")

import shutil  # noqa: E402
shutil.rmtree(tmp)
sys.exit(t.done())
