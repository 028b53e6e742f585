"""bench/engine/torch_gpt.py: the toyllm architecture in PyTorch (token +
position embeddings, pre-norm blocks of causal multi-head attention and a 4x
GELU(tanh) MLP, final layernorm, output tied to the token embedding), trained
with AdamW on random tokens; prints training tokens per wall second and per
CPU second (all threads of the process), REPEAT times.

The comparison is only fair against an optimised BLAS with the same thread
count as toyllm, so before measuring it reports the peer's configuration and
refuses (exit 3, reason on stderr) when PyTorch's BLAS is the reference
implementation or any thread count differs from THREADS. run.sh sets
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS = THREADS.

usage: python3 torch_gpt.py LAYERS DIM HEADS VOCAB SEQ BATCH THREADS STEPS [REPEAT]
       (STEPS 0: only print the configuration line and check it)
output: "peer KEY=VALUE ..." then REPEAT lines "run TOK_PER_WALL_S TOK_PER_CPU_S"
"""
import ctypes
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.ln1 = nn.LayerNorm(C)
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)
        self.ln2 = nn.LayerNorm(C)
        self.fc = nn.Linear(C, 4 * C)
        self.fcproj = nn.Linear(4 * C, C)

    def forward(self, x, mask):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        hs = C // self.H
        q = q.view(B, T, self.H, hs).transpose(1, 2)
        k = k.view(B, T, self.H, hs).transpose(1, 2)
        v = v.view(B, T, self.H, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(mask[:T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.proj(y)
        x = x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))
        return x


class GPT(nn.Module):
    def __init__(self, V, T, L, C, H):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.blocks = nn.ModuleList([Block(C, H) for _ in range(L)])
        self.lnf = nn.LayerNorm(C)
        self.register_buffer("mask", torch.tril(torch.ones(T, T)))

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.blocks:
            x = b(x, self.mask)
        logits = self.lnf(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def blas_config(threads):
    """(description, problem or None) of the BLAS this process runs."""
    a = torch.randn(512, 512)
    b = torch.randn(512, 512)
    a @ b  # make sure the BLAS is loaded
    libs = sorted({line.split()[-1] for line in open("/proc/self/maps")
                   if "blas" in line.lower() and line.split()[-1].startswith("/")})
    desc = {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "blas_libs": ",".join(libs) or "none"}
    problem = None
    # the library that answers for libblas.so.3 (what libtorch links) is the BLAS in
    # use: Debian's alternatives point it at OpenBLAS or at the reference build
    front = [os.path.realpath(p) for p in libs if os.path.basename(p).startswith("libblas.so")]
    optimised = [p for p in (front or libs) if any(k in p.lower() for k in ("openblas", "mkl", "blis"))]
    desc["blas_front"] = ",".join(front) or "none"
    openblas = None
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            openblas = lib
            break
        except (OSError, AttributeError):
            continue
    if not optimised:
        desc["blas"] = "reference"
        problem = ("PyTorch's BLAS is the reference implementation (%s): install "
                   "libopenblas0-pthread" % (desc["blas_front"]))
    elif openblas is not None:
        desc["blas"] = openblas.openblas_get_config().decode().replace(" ", "_")
        desc["blas_core"] = openblas.openblas_get_corename().decode()
        desc["blas_threads"] = openblas.openblas_get_num_threads()
        if desc["blas_threads"] != threads:
            problem = "OpenBLAS runs %d threads, not %d" % (desc["blas_threads"], threads)
    else:
        desc["blas"] = "MKL or BLIS"
    if torch.get_num_threads() != threads:
        problem = "torch runs %d threads, not %d" % (torch.get_num_threads(), threads)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        if os.environ.get(var) != str(threads):
            problem = "%s is %s, not %d" % (var, os.environ.get(var), threads)
    # a 512^3 product per CPU second: an optimised BLAS runs tens of GFLOP/s on any
    # recent core, the reference one a few
    t = time.process_time()
    for _ in range(10):
        a @ b
    dt = time.process_time() - t
    rate = 10 * 2 * 512 ** 3 / dt / 1e9
    desc["sgemm512_gflops_per_cpu_s"] = "%.1f" % rate
    if rate < 20 and not problem:
        problem = ("a 512^3 sgemm runs at %.1f GFLOP/s per CPU second: not an optimised BLAS"
                   % rate)
    return desc, problem


def main():
    L, C, H, V, T, B, threads, steps = (int(a) for a in sys.argv[1:9])
    repeat = int(sys.argv[9]) if len(sys.argv) > 9 else 1
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    desc, problem = blas_config(threads)
    print("peer " + " ".join("%s=%s" % kv for kv in desc.items()), flush=True)
    if problem:
        print("torch_gpt.py: peer not configured: " + problem, file=sys.stderr)
        sys.exit(3)
    if steps == 0:
        return
    model = GPT(V, T, L, C, H)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    x = torch.randint(0, V, (B, T))
    y = torch.randint(0, V, (B, T))

    def step():
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            step()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        print("run %.1f %.1f" % (B * T * steps / dt, B * T * steps / dc), flush=True)


if __name__ == "__main__":
    main()
