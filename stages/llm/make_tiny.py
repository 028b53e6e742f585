#!/usr/bin/env python3
"""make_tiny: writes a tiny random checkpoint of one family in Hugging Face
layout (config.json + model.safetensors, or shards + model.safetensors.index.json
with --shard-bytes), for tests and rehearsal studies. Weights come from
llmkit.tiny.random_tensors (seeded, deterministic); the same arguments always
give byte-identical files.

Usage: make_tiny.py --family llama|qwen2|qwen3 --vocab-size N --seed S --out DIR
       [--hidden 64] [--layers 2] [--heads 4] [--kv-heads 2] [--inter 128]
       [--head-dim N] [--tie | --no-tie] [--dtype bfloat16|float16|float32]
       [--bos-id N] [--eos-id N] [--shard-bytes N] [--copy-from DIR]
Errors: '<prog>: error: ...' on stderr, status 2, DIR untouched.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from llmkit.runtime import main  # noqa: E402


def run():
    import torch
    from llmkit.checkpoint import save_checkpoint
    from llmkit.errors import KitError
    from llmkit.tiny import random_tensors, tiny_config

    ap = argparse.ArgumentParser(prog="make_tiny", description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", required=True, choices=("llama", "qwen2", "qwen3"))
    ap.add_argument("--vocab-size", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--inter", type=int, default=128)
    ap.add_argument("--head-dim", type=int, default=None)
    tie = ap.add_mutually_exclusive_group()
    tie.add_argument("--tie", dest="tie", action="store_true", default=None)
    tie.add_argument("--no-tie", dest="tie", action="store_false")
    ap.add_argument("--dtype", default="float32", choices=("bfloat16", "float16", "float32"))
    ap.add_argument("--bos-id", type=int, default=None)
    ap.add_argument("--eos-id", type=int, default=None)
    ap.add_argument("--shard-bytes", type=int, default=None)
    ap.add_argument("--copy-from", default=None)
    a = ap.parse_args()
    for name in ("vocab_size", "hidden", "layers", "heads", "kv_heads", "inter"):
        if getattr(a, name) < 1:
            raise KitError(f"--{name.replace('_', '-')}: must be at least 1")
    cfg = tiny_config(a.family, a.vocab_size, hidden=a.hidden, layers=a.layers, heads=a.heads,
                      kv_heads=a.kv_heads, inter=a.inter, tie=a.tie, head_dim=a.head_dim,
                      bos_token_id=a.bos_id, eos_token_id=a.eos_id)
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[a.dtype]
    tensors = random_tensors(cfg, a.seed, dtype=dtype)
    save_checkpoint(a.out, cfg, tensors, max_shard_bytes=a.shard_bytes, copy_from=a.copy_from)
    return 0


if __name__ == "__main__":
    main("make_tiny", run)
