"""llmkit/gguf.py, read back without llama.cpp: metadata keys and values,
tensor names and ggml shapes, data equal to the checkpoint's (llama's q/k rows
permuted, undone here; qwen2/qwen3 untouched), rope_freqs equal to the ratio of
plain to llama3-scaled inverse frequencies of llmkit/model.py (two codings of
Llama 3.1's scaling agree), tied heads without output.weight, the tokenizer
arrays (types, [PAD] fill, merges cut with the vocabulary), bf16 stored as
BF16 with 1-D tensors F32, and errors. t0301 runs the same files in llama.cpp.
Run: /usr/bin/python3 tests/llm/test_gguf.py (TAP on stdout)."""
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "stages", "llm"))

import torch  # noqa: E402

from tap import Tap  # noqa: E402
from llmkit import gguf  # noqa: E402
from llmkit.errors import KitError  # noqa: E402
from llmkit.model import Arch, rope_inv_freq  # noqa: E402
from llmkit.tiny import random_tensors, tiny_config  # noqa: E402

V = 40


def tokenizer(regex):
    """A small byte-level BPE tokenizer.json: ids 0..29 vocab, 30 missing,
    31..33 added (two special, one not), merges referring to kept and cut ids."""
    vocab = {chr(ord("a") + i): i for i in range(26)}
    vocab.update({"ab": 26, "abc": 27, "Ġa": 28, "Ġ": 29, "zz": 45})
    added = [{"id": 31, "content": "<|im_start|>", "special": True},
             {"id": 32, "content": "<|im_end|>", "special": True},
             {"id": 33, "content": "<think>", "special": False}]
    return {"model": {"type": "BPE", "vocab": vocab,
                      "merges": ["a b", ["ab", "c"], "Ġ a", "z z"]},
            "added_tokens": added,
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": regex}}]}}


LLAMA_RE = r"(?i:'s|'t)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+"
QWEN_RE = r"(?i:'s|'t)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+"


def unpermute(w, n_head):
    s = w.shape
    return w.reshape(n_head, s[0] // n_head // 2, 2, *s[1:]).transpose(1, 2).reshape(s)


def main():
    t = Tap()
    tcfg = {"eos_token": "<|im_end|>", "bos_token": None, "pad_token": {"content": "<|im_start|>"},
            "add_bos_token": False, "chat_template": "{{ messages }}"}
    with tempfile.TemporaryDirectory() as tmp:
        for fam, dtype in (("llama", torch.float32), ("qwen2", torch.bfloat16), ("qwen3", torch.float32)):
            cfg = tiny_config(fam, V)
            ts = random_tensors(cfg, 4, dtype=dtype)
            p = os.path.join(tmp, f"{fam}.gguf")
            tok = tokenizer(LLAMA_RE if fam == "llama" else QWEN_RE)
            gguf.write_gguf(p, cfg, ts, tok, tcfg)
            meta, gt = gguf.read_gguf(p)
            want = {"general.architecture": fam, f"{fam}.block_count": 2, f"{fam}.embedding_length": 64,
                    f"{fam}.attention.head_count": 4, f"{fam}.attention.head_count_kv": 2,
                    f"{fam}.attention.key_length": cfg.head_dim, f"{fam}.feed_forward_length": 128,
                    "tokenizer.ggml.model": "gpt2",
                    "tokenizer.ggml.pre": "llama-bpe" if fam == "llama" else "qwen2",
                    "tokenizer.ggml.eos_token_id": 32, "tokenizer.ggml.padding_token_id": 31,
                    "tokenizer.ggml.add_bos_token": False, "tokenizer.chat_template": "{{ messages }}"}
            bad = {k: (meta.get(k), v) for k, v in want.items() if meta.get(k) != v}
            t.ok(not bad and abs(meta[f"{fam}.rope.freq_base"] - cfg.rope_theta) < 1e-3 * cfg.rope_theta,
                 f"{fam}: GGUF metadata (architecture, sizes, tokenizer ids, template)", str(bad))
            toks, types = meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.token_type"]
            t.ok(len(toks) == V and toks[30] == "[PAD30]" and types[30] == 5 and types[31] == 3
                 and types[33] == 4 and types[0] == 1 and toks[28] == "Ġa",
                 f"{fam}: token list, [PAD] fill and token types", f"{toks[26:34]} {types[26:34]}")
            t.ok(meta["tokenizer.ggml.merges"] == ["a b", "ab c", "Ġ a"],
                 f"{fam}: merges as 'a b', those with cut ids left out", str(meta["tokenizer.ggml.merges"]))
            L, H, KV = 2, 4, 2
            errs = []
            for i in range(L):
                pairs = {"attn_q.weight": "self_attn.q_proj.weight", "attn_k.weight": "self_attn.k_proj.weight",
                         "attn_v.weight": "self_attn.v_proj.weight", "attn_output.weight": "self_attn.o_proj.weight",
                         "ffn_gate.weight": "mlp.gate_proj.weight", "ffn_up.weight": "mlp.up_proj.weight",
                         "ffn_down.weight": "mlp.down_proj.weight", "attn_norm.weight": "input_layernorm.weight",
                         "ffn_norm.weight": "post_attention_layernorm.weight"}
                if fam == "qwen2":
                    pairs.update({"attn_q.bias": "self_attn.q_proj.bias", "attn_k.bias": "self_attn.k_proj.bias",
                                  "attn_v.bias": "self_attn.v_proj.bias"})
                if fam == "qwen3":
                    pairs.update({"attn_q_norm.weight": "self_attn.q_norm.weight",
                                  "attn_k_norm.weight": "self_attn.k_norm.weight"})
                for g, h in pairs.items():
                    a = gt.get(f"blk.{i}.{g}")
                    b = ts[f"model.layers.{i}.{h}"]
                    if a is None:
                        errs.append(f"blk.{i}.{g} missing")
                        continue
                    if fam == "llama" and g == "attn_q.weight":
                        a = unpermute(a, H)
                    if fam == "llama" and g == "attn_k.weight":
                        a = unpermute(a, KV)
                    want_dt = torch.float32 if b.dim() == 1 else dtype
                    if a.dtype != want_dt or not torch.equal(a, b.to(want_dt)):
                        errs.append(f"blk.{i}.{g} differs ({a.dtype})")
            extra = set(gt) - {f"blk.{i}.{g}" for i in range(L) for g in pairs} - {
                "token_embd.weight", "output_norm.weight", "output.weight", "rope_freqs.weight"}
            t.ok(not errs and not extra, f"{fam}: per-layer tensors named and laid out as llama.cpp's "
                                         f"converter does, data equal", "\n".join(errs) + str(extra))
            tied = "output.weight" not in gt
            t.ok(tied == cfg.tie_word_embeddings and torch.equal(gt["token_embd.weight"], ts["model.embed_tokens.weight"]),
                 f"{fam}: embedding stored, output.weight only for an untied head")
            if fam == "llama":
                hd = cfg.head_dim
                plain = 1.0 / (cfg.rope_theta ** (torch.arange(0, hd, 2).float() / hd))
                ratio = plain / rope_inv_freq(Arch(cfg))
                d = (gt["rope_freqs.weight"] - ratio).abs().max().item()
                t.ok(d < 1e-4 and gt["rope_freqs.weight"].max().item() == 8.0,
                     f"llama: rope_freqs equals model.py's llama3 scaling ({d:.1e}; {gt['rope_freqs.weight'].tolist()})")
            else:
                t.ok("rope_freqs.weight" not in gt, f"{fam}: no rope_freqs without llama3 scaling")
        cfg = tiny_config("qwen3", V)
        ts = random_tensors(cfg, 4)
        t.raises(lambda: gguf.write_gguf(os.path.join(tmp, "x.gguf"), cfg, ts, tokenizer(r"\s+"), tcfg),
                 KitError, "pre_tokenizer is neither", "an unknown pre-tokenizer is refused")
        bad = open(os.path.join(tmp, "bad.gguf"), "wb")
        bad.write(b"GGML" + bytes(20))
        bad.close()
        t.raises(lambda: gguf.read_gguf(os.path.join(tmp, "bad.gguf")), KitError, "not a GGUF file",
                 "read_gguf names a file with a wrong magic")
        t.ok(not [f for f in os.listdir(tmp) if ".tmp" in f], "no temporary files left behind")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
