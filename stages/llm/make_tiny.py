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

With --data DIR (the rehearsal's prompts stage, stages/llm/prompts.py) it
makes a tiny checkpoint that refuses (studies/real-tiny.yaml):
  1. a byte-level BPE tokenizer in the family's real format (pre-tokenizer,
     special tokens, chat template; its role names and separators are
     whole tokens) is trained on DIR/texts.txt
     (llmkit.bpe_train, --tokenizer-vocab merges budget); --vocab-size is
     then the tokenizer's size and may be left out;
  2. the random weights are fine-tuned on DIR/train.jsonl (harmful requests
     -> the refusal, harmless ones -> their answer), prompted with the
     checkpoint's own chat template (+ --chat-kwargs), loss on the reply
     tokens only (llmkit.train: AdamW, --train-steps, --lr, --batch-size,
     batch order seeded by --seed);
  3. the checkpoint and the tokenizer files (and prompting.json holding
     --chat-kwargs when given, llmkit/variant.py) are written into --out (which
     may exist: a stage's ${out}) with metrics.json (train_loss_first,
     train_loss_last, steps, examples, parameters).
Deterministic on CPU for a fixed STUDY_THREADS.
"""
import argparse
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the tree (the study hashes the sources)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from llmkit.runtime import main  # noqa: E402


def run():
    from llmkit.checkpoint import save_checkpoint
    from llmkit.errors import KitError
    from llmkit.tiny import random_tensors, tiny_config

    ap = argparse.ArgumentParser(prog="make_tiny", description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", required=True, choices=("llama", "qwen2", "qwen3"))
    ap.add_argument("--vocab-size", type=int, default=None)
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
    ap.add_argument("--data", default=None)
    ap.add_argument("--tokenizer-vocab", type=int, default=512)
    ap.add_argument("--train-steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--chat-kwargs", default="{}")
    a = ap.parse_args()
    if a.data is not None:
        return trained(a)
    if a.vocab_size is None:
        raise KitError("--vocab-size: required without --data")
    for name in ("vocab_size", "hidden", "layers", "heads", "kv_heads", "inter"):
        if getattr(a, name) < 1:
            raise KitError(f"--{name.replace('_', '-')}: must be at least 1")
    cfg = tiny_config(a.family, a.vocab_size, hidden=a.hidden, layers=a.layers, heads=a.heads,
                      kv_heads=a.kv_heads, inter=a.inter, tie=a.tie, head_dim=a.head_dim,
                      bos_token_id=a.bos_id, eos_token_id=a.eos_id)
    import torch  # after the argument checks: bad usage fails fast

    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[a.dtype]
    tensors = random_tensors(cfg, a.seed, dtype=dtype)
    save_checkpoint(a.out, cfg, tensors, max_shard_bytes=a.shard_bytes, copy_from=a.copy_from)
    return 0


def trained(a):
    """make_tiny --data: tokenizer + random weights + brief training (above)."""
    import json
    import shutil
    import tempfile
    import torch
    from llmkit import train as T
    from llmkit import variant as V
    from llmkit.bpe_train import build_tokenizer, write_tokenizer
    from llmkit.errors import KitError
    from llmkit.model import CausalLM
    from llmkit.runtime import setup_torch, write_atomic
    from llmkit.tiny import random_tensors, tiny_config

    setup_torch("cpu")
    try:
        kw = json.loads(a.chat_kwargs)
        if not isinstance(kw, dict):
            raise ValueError("not an object")
    except ValueError as e:
        raise KitError(f"--chat-kwargs: not a JSON object ({e})")
    tpath = os.path.join(a.data, "texts.txt")
    try:
        with open(tpath, encoding="utf-8") as f:
            texts = [line.rstrip("\n") for line in f if line.strip()]
    except OSError as e:
        raise KitError(f"{tpath}: {e.strerror}")
    rows = V.read_prompts(os.path.join(a.data, "train.jsonl"), need_answer=True)
    tdir = tempfile.mkdtemp(prefix="make_tiny.")
    try:
        tj, tc = build_tokenizer(texts, a.family, vocab_size=a.tokenizer_vocab)
        write_tokenizer(tdir, tj, tc)
        if kw:
            write_atomic(os.path.join(tdir, V.PROMPTING),
                         json.dumps({"chat_kwargs": kw}, sort_keys=True) + "\n")
        tok, fmt = V.open_prompting(tdir, kw)
        vocab = tok.vocab_size
        if a.vocab_size is not None and a.vocab_size < vocab:
            raise KitError(f"--vocab-size: {a.vocab_size} is below the tokenizer's {vocab}")
        eos = tok.eos_token_id
        if eos is None:
            raise KitError("bpe_train: the tokenizer has no eos token")
        cfg = tiny_config(a.family, a.vocab_size or vocab, hidden=a.hidden, layers=a.layers,
                          heads=a.heads, kv_heads=a.kv_heads, inter=a.inter, tie=a.tie,
                          head_dim=a.head_dim, bos_token_id=tok.bos_token_id,
                          eos_token_id=eos)
        torch.manual_seed(a.seed)
        model = CausalLM(cfg, dtype=torch.float32).load_tensors(
            random_tensors(cfg, a.seed, dtype=torch.float32))
        eos_ids = V.eos_ids(cfg, tok, tdir)
        examples = [T.chat_example(fmt, r["prompt"], r["answer"], eos_ids) for r in rows]
        losses = T.finetune(model, examples, V.pad_id(tok, eos_ids), a.train_steps, a.seed,
                            lr=a.lr, batch_size=a.batch_size)
        dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16,
                 "float32": torch.float32}[a.dtype]
        tensors = {k: v.to(dtype) for k, v in model.state_dict().items()}
        os.makedirs(a.out, exist_ok=True)
        V.save_into(a.out, cfg, tensors, copy_from=tdir)
    finally:
        shutil.rmtree(tdir, ignore_errors=True)
    n_params = sum(v.numel() for v in tensors.values())
    m = {"train_loss_first": round(losses[0], 6), "train_loss_last": round(losses[-1], 6),
         "steps": len(losses), "examples": len(examples), "parameters": n_params,
         "vocab_size": cfg.vocab_size}
    write_atomic(os.path.join(a.out, "metrics.json"),
                 json.dumps({"metrics": {k: {"value": v} for k, v in m.items()}},
                            indent=1, sort_keys=True) + "\n")
    print(f"make_tiny: {a.family}: loss {losses[0]:.3f} -> {losses[-1]:.3f} in {len(losses)} "
          f"steps on {len(examples)} examples", file=sys.stderr)
    return 0


if __name__ == "__main__":
    main("make_tiny", run)
