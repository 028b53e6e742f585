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
  3. the checkpoint (sharded with --shard-bytes) and the tokenizer files (and
     prompting.json holding --chat-kwargs when given, llmkit/variant.py) are
     written with metrics.json (train_loss_first, train_loss_last, steps,
     examples, parameters). --copy-from is refused here (the tokenizer is
     the trained one).
Deterministic on CPU for a fixed STUDY_THREADS.

--out, in both modes: a new or empty directory (a stage's ${out}); a
non-empty one is refused, never cleared. The files are built in
--out.tmpPID next to it and renamed in at the end.
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the tree (the study hashes the sources)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from llmkit.runtime import check_out, finish_out, json_object_arg, main, need, parser  # noqa: E402


def run():
    from llmkit.checkpoint import save_checkpoint
    from llmkit.errors import KitError
    from llmkit.tiny import random_tensors, tiny_config

    ap = parser("make_tiny", __doc__)
    ap.add_argument("--family", required=True, choices=("llama", "qwen2", "qwen3"), help='model family')
    ap.add_argument("--vocab-size", type=int, default=None, help="vocabulary size (with --data: at least the tokenizer's)")
    ap.add_argument("--seed", type=int, required=True, help='seed of the weights (and the batch order)')
    ap.add_argument("--out", required=True, help='output directory (new, or empty)')
    ap.add_argument("--hidden", type=int, default=64, help='hidden size D')
    ap.add_argument("--layers", type=int, default=2, help='number of layers')
    ap.add_argument("--heads", type=int, default=4, help='attention heads')
    ap.add_argument("--kv-heads", type=int, default=2, help='key/value heads (GQA)')
    ap.add_argument("--inter", type=int, default=128, help='MLP intermediate size')
    ap.add_argument("--head-dim", type=int, default=None, help='head dimension (default D/heads)')
    tie = ap.add_mutually_exclusive_group()
    tie.add_argument("--tie", dest="tie", action="store_true", default=None)
    tie.add_argument("--no-tie", dest="tie", action="store_false")
    ap.add_argument("--dtype", default="float32", choices=("bfloat16", "float16", "float32"), help='dtype of the saved tensors')
    ap.add_argument("--bos-id", type=int, default=None, help='bos token id (< vocab size)')
    ap.add_argument("--eos-id", type=int, default=None, help='eos token id (< vocab size)')
    ap.add_argument("--shard-bytes", type=int, default=None, help='largest shard in bytes (writes an index)')
    ap.add_argument("--copy-from", default=None, help='copy tokenizer/prompting files from this checkpoint (random mode)')
    ap.add_argument("--data", default=None, help='prompts directory: train a refusing model (see above)')
    ap.add_argument("--tokenizer-vocab", type=int, default=512, help='BPE vocabulary budget (--data)')
    ap.add_argument("--train-steps", type=int, default=300, help='fine-tuning steps (--data)')
    ap.add_argument("--lr", type=float, default=3e-3, help='AdamW learning rate (--data)')
    ap.add_argument("--batch-size", type=int, default=16, help='examples per step (--data)')
    ap.add_argument("--chat-kwargs", default="{}", help='JSON object of chat-template variables (--data; saved as prompting.json)')
    a = ap.parse_args()
    for name in ("vocab_size", "hidden", "layers", "heads", "kv_heads", "inter", "head_dim",
                 "shard_bytes", "tokenizer_vocab", "train_steps", "batch_size"):
        need(name.replace("_", "-"), getattr(a, name), lo=1)
    for name in ("bos_id", "eos_id"):
        need(name.replace("_", "-"), getattr(a, name), lo=0)
        if getattr(a, name) is not None and a.vocab_size is not None and \
                getattr(a, name) >= a.vocab_size:
            raise KitError(f"--{name.replace('_', '-')}: {getattr(a, name)} is not below "
                           f"--vocab-size {a.vocab_size}")
    need("lr", a.lr, lo=0, lo_open=True)
    if a.copy_from is not None and not os.path.isdir(a.copy_from):
        raise KitError(f"--copy-from: '{a.copy_from}': directory does not exist")
    if a.data is not None:
        if a.copy_from is not None:
            raise KitError("--copy-from: not with --data (the tokenizer is trained on --data)")
        if a.bos_id is not None or a.eos_id is not None:
            raise KitError("--bos-id/--eos-id: not with --data (the trained tokenizer's are used)")
        return trained(a)
    if a.vocab_size is None:
        raise KitError("--vocab-size: required without --data")
    cfg = tiny_config(a.family, a.vocab_size, hidden=a.hidden, layers=a.layers, heads=a.heads,
                      kv_heads=a.kv_heads, inter=a.inter, tie=a.tie, head_dim=a.head_dim,
                      bos_token_id=a.bos_id, eos_token_id=a.eos_id)
    import torch  # after the argument checks: bad usage fails fast

    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[a.dtype]
    tensors = random_tensors(cfg, a.seed, dtype=dtype)
    tmp = check_out(a.out)
    save_checkpoint(os.path.join(tmp, "ckpt"), cfg, tensors, max_shard_bytes=a.shard_bytes,
                    copy_from=a.copy_from)
    ck = os.path.join(tmp, "ckpt")
    for name in sorted(os.listdir(ck)):
        os.replace(os.path.join(ck, name), os.path.join(tmp, name))
    os.rmdir(ck)
    finish_out(tmp, a.out)
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

    if not os.path.isdir(a.data):
        raise KitError(f"--data: '{a.data}': directory does not exist")
    setup_torch("cpu")
    kw = json_object_arg("chat-kwargs", a.chat_kwargs)
    tpath = os.path.join(a.data, "texts.txt")
    try:
        with open(tpath, encoding="utf-8") as f:
            texts = [line.rstrip("\n") for line in f if line.strip()]
    except OSError as e:
        raise KitError(f"{tpath}: {e.strerror}")
    rows = V.read_prompts(os.path.join(a.data, "train.jsonl"), need_answer=True)
    out_tmp = check_out(a.out)
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
        from llmkit.checkpoint import save_checkpoint
        save_checkpoint(os.path.join(out_tmp, "ckpt"), cfg, tensors,
                        max_shard_bytes=a.shard_bytes, copy_from=tdir)
        ck = os.path.join(out_tmp, "ckpt")
        for name in sorted(os.listdir(ck)):
            os.replace(os.path.join(ck, name), os.path.join(out_tmp, name))
        os.rmdir(ck)
    finally:
        shutil.rmtree(tdir, ignore_errors=True)
    n_params = sum(v.numel() for v in tensors.values())
    m = {"train_loss_first": round(losses[0], 6), "train_loss_last": round(losses[-1], 6),
         "steps": len(losses), "examples": len(examples), "parameters": n_params,
         "vocab_size": cfg.vocab_size}
    write_atomic(os.path.join(out_tmp, "metrics.json"),
                 json.dumps({"metrics": {k: {"value": v} for k, v in m.items()}},
                            indent=1, sort_keys=True) + "\n")
    finish_out(out_tmp, a.out)
    print(f"make_tiny: {a.family}: loss {losses[0]:.3f} -> {losses[-1]:.3f} in {len(losses)} "
          f"steps on {len(examples)} examples", file=sys.stderr)
    return 0


if __name__ == "__main__":
    main("make_tiny", run)
