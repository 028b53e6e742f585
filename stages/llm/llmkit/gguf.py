"""GGUF v3 writer for a llama / qwen2 / qwen3 checkpoint, following llama.cpp's
converter (convert_hf_to_gguf.py and gguf-py, read in ggml-org/llama.cpp), so
that llama.cpp (node-llama-cpp in tests/llm) can evaluate the very weights our
decoder runs: an independent reference forward. Tests only; no stage writes GGUF.

Conventions followed (llama.cpp names):
  - general.architecture = model_type ('llama', 'qwen2', 'qwen3'); hyper-
    parameters under '<arch>.': context_length, embedding_length, block_count,
    feed_forward_length, attention.head_count, attention.head_count_kv,
    rope.freq_base, attention.layer_norm_rms_epsilon, attention.key_length and
    value_length (= head_dim), rope.dimension_count (llama), vocab_size (llama);
  - tensor names token_embd, blk.N.attn_norm / attn_q / attn_k / attn_v
    (+ .bias) / attn_output / attn_q_norm / attn_k_norm / ffn_norm / ffn_gate /
    ffn_up / ffn_down, output_norm, output (absent when tied);
  - llama only: q_proj/k_proj rows permuted from HF's half-split RoPE layout to
    the interleaved one llama.cpp's LLAMA arch rotates (per head: row 2i <- i,
    2i+1 <- i + hd/2); qwen2/qwen3 use NEOX (half-split) RoPE, no permutation;
  - Llama 3.1 'llama3' rope scaling as a float32 tensor rope_freqs.weight
    [hd/2] of per-frequency divisors (1, factor, or the smooth blend), with no
    rope scaling keys;
  - 1-D tensors (norms, biases) stored as F32; matrices in the tensors' dtype
    (F32, F16 or BF16);
  - tokenizer: tokenizer.ggml.model 'gpt2', .pre ('llama-bpe' for Llama 3's
    split regex, 'qwen2' for Qwen's), .tokens (vocab_size strings, byte-level
    as in tokenizer.json; ids missing from the file become '[PAD<i>]'), .token_type
    (1 normal, 3 control = special added tokens or '<|...|>', 4 user-defined,
    5 unused), .merges ('a b'), bos/eos/padding ids, add_bos_token,
    tokenizer.chat_template. When the checkpoint's vocab_size is smaller than
    the tokenizer's (a tiny model with a real vocabulary cut to its first
    vocab_size ids), tokens with id >= vocab_size are left out and so are merges
    whose parts or result are left out.
Tensor shapes are written in ggml order (reversed torch shape); data aligned to
general.alignment = 32 bytes. The file is written to a temporary name and renamed.
"""
import json
import math
import os
import struct

import torch

from .errors import KitError

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGN = 32

# gguf value types
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING, T_ARRAY, \
    T_UINT64, T_INT64, T_FLOAT64 = range(13)
# ggml tensor types
GGML_F32, GGML_F16, GGML_BF16 = 0, 1, 30
# llama file types
FTYPE = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 32}
TOK_NORMAL, TOK_CONTROL, TOK_USER_DEFINED, TOK_UNUSED = 1, 3, 4, 5


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(vtype, v):
    if vtype == T_STRING:
        return _str(v)
    if vtype == T_UINT32:
        return struct.pack("<I", v)
    if vtype == T_INT32:
        return struct.pack("<i", v)
    if vtype == T_FLOAT32:
        return struct.pack("<f", v)
    if vtype == T_BOOL:
        return struct.pack("<B", 1 if v else 0)
    if vtype == T_UINT64:
        return struct.pack("<Q", v)
    raise ValueError(vtype)


def _kv(key, vtype, v):
    if isinstance(vtype, tuple):  # (T_ARRAY, elem type)
        etype = vtype[1]
        body = struct.pack("<IQ", etype, len(v)) + b"".join(_value(etype, x) for x in v)
        return _str(key) + struct.pack("<I", T_ARRAY) + body
    return _str(key) + struct.pack("<I", vtype) + _value(vtype, v)


def _get(cfg, name, default=None):
    if isinstance(cfg, dict):
        return cfg.get(name, default)
    return getattr(cfg, name, default)


def _load_json(x, what):
    if x is None or isinstance(x, dict):
        return x
    try:
        with open(x, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise KitError(f"{x}: cannot read {what}: {e}")


def llama3_rope_factors(cfg, head_dim):
    """rope_freqs for 'llama3' scaling: per-frequency divisor of the base inverse
    frequency (llama.cpp divides theta's frequencies by these), float32 [hd/2]."""
    rs = _get(cfg, "rope_scaling")
    theta = float(_get(cfg, "rope_theta", 10000.0))
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    factor = float(rs.get("factor", 8.0))
    low = float(rs.get("low_freq_factor", 1.0))
    high = float(rs.get("high_freq_factor", 4.0))
    old = float(rs.get("original_max_position_embeddings", 8192))
    low_wl, high_wl = old / low, old / high
    out = []
    for f in freqs.tolist():
        wl = 2 * math.pi / f
        if wl < high_wl:
            out.append(1.0)
        elif wl > low_wl:
            out.append(factor)
        else:
            s = (old / wl - low) / (high - low)
            out.append(1.0 / ((1 - s) / factor + s))
    return torch.tensor(out, dtype=torch.float32)


def permute_for_llama_rope(w, n_head):
    """HF half-split rows -> llama.cpp interleaved rows, per head (q or k weight/bias)."""
    shape = w.shape
    return w.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).transpose(1, 2).reshape(shape)


def _tokenizer_pre(tok):
    """llama.cpp's pre-tokenizer name from the split regex in tokenizer.json."""
    text = json.dumps(tok.get("pre_tokenizer"))
    if r"\\p{N}{1,3}" in text:
        return "llama-bpe"
    if r"\\p{N}" in text:
        return "qwen2"
    raise KitError("tokenizer.json: pre_tokenizer is neither Llama 3's nor Qwen's split regex")


def _token_id(tcfg, key, vocab):
    v = (tcfg or {}).get(key)
    if isinstance(v, dict):
        v = v.get("content")
    if v is None:
        return None
    return vocab.get(v)


def tokenizer_kv(tok, tcfg, vocab_size):
    """The tokenizer.* key/values for a byte-level BPE tokenizer.json."""
    model = tok.get("model") or {}
    if model.get("type") != "BPE":
        raise KitError("tokenizer.json: model.type is not BPE")
    vocab = dict(model.get("vocab") or {})
    added = {}
    for a in tok.get("added_tokens") or []:
        vocab[a["content"]] = a["id"]
        added[a["id"]] = a
    by_id = {i: t for t, i in vocab.items()}
    tokens, types = [], []
    for i in range(vocab_size):
        t = by_id.get(i)
        if t is None:
            tokens.append(f"[PAD{i}]")
            types.append(TOK_UNUSED)
        elif i in added:
            a = added[i]
            looks = t.startswith("<|") and t.endswith("|>")
            types.append(TOK_CONTROL if a.get("special") or looks else TOK_USER_DEFINED)
            tokens.append(t)
        else:
            types.append(TOK_NORMAL)
            tokens.append(t)
    kept = {t: i for t, i in vocab.items() if i < vocab_size}
    merges = []
    for m in model.get("merges") or []:
        a, b = (m.split(" ", 1) if isinstance(m, str) else m)
        if a in kept and b in kept and (a + b) in kept:
            merges.append(f"{a} {b}")
    kv = [
        ("tokenizer.ggml.model", T_STRING, "gpt2"),
        ("tokenizer.ggml.pre", T_STRING, _tokenizer_pre(tok)),
        ("tokenizer.ggml.tokens", (T_ARRAY, T_STRING), tokens),
        ("tokenizer.ggml.token_type", (T_ARRAY, T_INT32), types),
        ("tokenizer.ggml.merges", (T_ARRAY, T_STRING), merges),
    ]
    for key, name in (("bos_token", "bos_token_id"), ("eos_token", "eos_token_id"),
                      ("pad_token", "padding_token_id")):
        i = _token_id(tcfg, key, vocab)
        if i is not None and i < vocab_size:
            kv.append((f"tokenizer.ggml.{name}", T_UINT32, i))
    if tcfg and "add_bos_token" in tcfg:
        kv.append(("tokenizer.ggml.add_bos_token", T_BOOL, bool(tcfg["add_bos_token"])))
    if tcfg and isinstance(tcfg.get("chat_template"), str):
        kv.append(("tokenizer.chat_template", T_STRING, tcfg["chat_template"]))
    return kv


def gguf_tensors(cfg, tensors):
    """HF-named tensors -> list of (gguf name, tensor) in llama.cpp's layout."""
    arch = _get(cfg, "model_type")
    L = int(_get(cfg, "num_hidden_layers"))
    H = int(_get(cfg, "num_attention_heads"))
    KV = int(_get(cfg, "num_key_value_heads") or H)
    hd = _get(cfg, "head_dim") or int(_get(cfg, "hidden_size")) // H
    out = [("token_embd.weight", tensors["model.embed_tokens.weight"])]
    rs = _get(cfg, "rope_scaling")
    if rs and rs.get("rope_type", rs.get("type")) == "llama3":
        out.append(("rope_freqs.weight", llama3_rope_factors(cfg, int(hd))))
    names = [("input_layernorm.weight", "attn_norm.weight"),
             ("self_attn.q_proj.weight", "attn_q.weight"), ("self_attn.q_proj.bias", "attn_q.bias"),
             ("self_attn.k_proj.weight", "attn_k.weight"), ("self_attn.k_proj.bias", "attn_k.bias"),
             ("self_attn.v_proj.weight", "attn_v.weight"), ("self_attn.v_proj.bias", "attn_v.bias"),
             ("self_attn.o_proj.weight", "attn_output.weight"),
             ("self_attn.q_norm.weight", "attn_q_norm.weight"),
             ("self_attn.k_norm.weight", "attn_k_norm.weight"),
             ("post_attention_layernorm.weight", "ffn_norm.weight"),
             ("mlp.gate_proj.weight", "ffn_gate.weight"), ("mlp.up_proj.weight", "ffn_up.weight"),
             ("mlp.down_proj.weight", "ffn_down.weight")]
    for i in range(L):
        for hf, gg in names:
            t = tensors.get(f"model.layers.{i}.{hf}")
            if t is None:
                continue
            if arch == "llama" and hf.startswith("self_attn.q_proj"):
                t = permute_for_llama_rope(t, H)
            elif arch == "llama" and hf.startswith("self_attn.k_proj"):
                t = permute_for_llama_rope(t, KV)
            out.append((f"blk.{i}.{gg}", t))
    out.append(("output_norm.weight", tensors["model.norm.weight"]))
    if not _get(cfg, "tie_word_embeddings", False):
        out.append(("output.weight", tensors["lm_head.weight"]))
    return out


def _tensor_bytes(t):
    t = t.detach().cpu().contiguous()
    if t.dim() <= 1 or t.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        t = t.float()
    if t.dtype == torch.float32:
        return GGML_F32, t.numpy().tobytes()
    if t.dtype == torch.float16:
        return GGML_F16, t.numpy().tobytes()
    return GGML_BF16, t.view(torch.int16).numpy().tobytes()


def write_gguf(path, cfg, tensors, tokenizer_json, tokenizer_config=None, name="tiny"):
    """Writes cfg (ModelConfig or config.json dict) + HF-named tensors + a
    tokenizer (tokenizer.json / tokenizer_config.json: paths or parsed dicts)
    as a GGUF v3 file at path (atomically)."""
    arch = _get(cfg, "model_type")
    if arch not in ("llama", "qwen2", "qwen3"):
        raise KitError(f"gguf: model_type '{arch}' is not llama, qwen2 or qwen3")
    tok = _load_json(tokenizer_json, "tokenizer.json")
    tcfg = _load_json(tokenizer_config, "tokenizer_config.json")
    V = int(_get(cfg, "vocab_size"))
    H = int(_get(cfg, "num_attention_heads"))
    hd = int(_get(cfg, "head_dim") or int(_get(cfg, "hidden_size")) // H)
    dtypes = {t.dtype for n, t in tensors.items() if t.dim() > 1}
    ftype = FTYPE.get(dtypes.pop(), 0) if len(dtypes) == 1 else 0
    kv = [
        ("general.architecture", T_STRING, arch),
        ("general.name", T_STRING, name),
        ("general.file_type", T_UINT32, ftype),
        ("general.quantization_version", T_UINT32, 2),
        ("general.alignment", T_UINT32, ALIGN),
        (f"{arch}.context_length", T_UINT32, int(_get(cfg, "max_position_embeddings", 4096))),
        (f"{arch}.embedding_length", T_UINT32, int(_get(cfg, "hidden_size"))),
        (f"{arch}.block_count", T_UINT32, int(_get(cfg, "num_hidden_layers"))),
        (f"{arch}.feed_forward_length", T_UINT32, int(_get(cfg, "intermediate_size"))),
        (f"{arch}.attention.head_count", T_UINT32, H),
        (f"{arch}.attention.head_count_kv", T_UINT32, int(_get(cfg, "num_key_value_heads") or H)),
        (f"{arch}.rope.freq_base", T_FLOAT32, float(_get(cfg, "rope_theta", 10000.0))),
        (f"{arch}.attention.layer_norm_rms_epsilon", T_FLOAT32, float(_get(cfg, "rms_norm_eps"))),
        (f"{arch}.attention.key_length", T_UINT32, hd),
        (f"{arch}.attention.value_length", T_UINT32, hd),
    ]
    if arch == "llama":
        kv += [(f"{arch}.rope.dimension_count", T_UINT32, hd), (f"{arch}.vocab_size", T_UINT32, V)]
    kv += tokenizer_kv(tok, tcfg, V)

    items = []
    offset = 0
    for gname, t in gguf_tensors(cfg, tensors):
        gtype, data = _tensor_bytes(t)
        items.append((gname, list(reversed(t.shape)), gtype, offset, data))
        offset += len(data)
        offset += (-offset) % ALIGN
    head = bytearray(GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(items), len(kv)))
    for k, vt, v in kv:
        head += _kv(k, vt, v)
    for gname, dims, gtype, off, _ in items:
        head += _str(gname) + struct.pack("<I", len(dims))
        head += b"".join(struct.pack("<Q", d) for d in dims)
        head += struct.pack("<IQ", gtype, off)
    head += b"\0" * ((-len(head)) % ALIGN)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(head)
            pos = 0
            for _, _, _, off, data in items:
                f.write(b"\0" * (off - pos))
                f.write(data)
                pos = off + len(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def read_gguf(path, with_data=True):
    """Reads back a GGUF v3 file this module wrote (scalar, string and array
    metadata; F32/F16/BF16 tensors) -> (metadata dict, {name: tensor in torch
    order}). For tests of the writer; KitError on a malformed file."""
    with open(path, "rb") as f:
        buf = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return vals

    def string():
        nonlocal pos
        (n,) = take("<Q")
        s = buf[pos:pos + n].decode("utf-8")
        pos += n
        return s

    scalar = {T_UINT8: "<B", T_INT8: "<b", T_UINT16: "<H", T_INT16: "<h", T_UINT32: "<I",
              T_INT32: "<i", T_FLOAT32: "<f", T_BOOL: "<B", T_UINT64: "<Q", T_INT64: "<q",
              T_FLOAT64: "<d"}

    def value(t):
        if t == T_STRING:
            return string()
        if t == T_ARRAY:
            et, n = take("<IQ")
            return [value(et) for _ in range(n)]
        if t not in scalar:
            raise KitError(f"{path}: unknown gguf value type {t}")
        v = take(scalar[t])[0]
        return bool(v) if t == T_BOOL else v

    if buf[:4] != GGUF_MAGIC:
        raise KitError(f"{path}: not a GGUF file (magic {buf[:4]!r})")
    pos = 4
    version, n_t, n_kv = take("<IQQ")
    if version != GGUF_VERSION:
        raise KitError(f"{path}: GGUF version {version}, expected {GGUF_VERSION}")
    meta = {}
    for _ in range(n_kv):
        k = string()
        (t,) = take("<I")
        meta[k] = value(t)
    infos = []
    for _ in range(n_t):
        name = string()
        (nd,) = take("<I")
        dims = list(take("<" + "Q" * nd))
        gtype, off = take("<IQ")
        infos.append((name, dims, gtype, off))
    align = meta.get("general.alignment", ALIGN)
    start = pos + (-pos) % align
    tensors = {}
    if with_data:
        dt = {GGML_F32: (torch.float32, 4), GGML_F16: (torch.float16, 2), GGML_BF16: (torch.int16, 2)}
        for name, dims, gtype, off in infos:
            if gtype not in dt:
                raise KitError(f"{path}: tensor {name}: ggml type {gtype} not readable here")
            tdt, size = dt[gtype]
            n = 1
            for d in dims:
                n *= d
            raw = bytearray(buf[start + off:start + off + n * size])
            t = torch.frombuffer(raw, dtype=tdt).reshape(list(reversed(dims)))
            tensors[name] = t.view(torch.bfloat16) if gtype == GGML_BF16 else t
    return meta, tensors
