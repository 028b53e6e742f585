"""A checkpoint directory in Hugging Face layout: config.json plus either
model.safetensors or model.safetensors.index.json with its shards
(model-00001-of-0000N.safetensors). Loading checks the tensor set against the
config (missing, unexpected, shapes, dtypes); saving writes the same layout
byte-stably and atomically. The one home of the tensor-name table.

Tensor names are those of transformers' LlamaForCausalLM / Qwen2ForCausalLM /
Qwen3ForCausalLM state dicts (see expected_tensors). Decisions:
- All tensors of a checkpoint share one dtype (BF16, F16 or F32), equal to
  config.json's torch_dtype/dtype when the file states one; anything else is
  a KitError naming the file and the tensor (the paper's checkpoints are
  uniform bf16; mixed precision files are refused rather than guessed at).
- Tied checkpoints (tie_word_embeddings) normally omit lm_head.weight; one that
  carries it is accepted when it equals model.embed_tokens.weight and dropped.
- model.layers.N.self_attn.rotary_emb.inv_freq (a buffer old llama exports
  carry; transformers ignores it on load) is ignored too.
- A directory with both model.safetensors and the index is refused (which one
  is meant is not knowable).
- Sharding follows transformers' save_pretrained: tensors in state-dict order,
  a new shard when the next tensor would pass max_shard_bytes (a larger tensor
  gets a shard of its own; see _shards), files
  model-0000i-of-0000n.safetensors, and an index {"metadata": {"total_size":
  bytes}, "weight_map": {name: file}} written with indent 2 and sorted keys.
  If everything fits in one shard a single model.safetensors is written, as
  transformers does.
"""
import dataclasses
import json
import os
import shutil

from .config import dumps_config, load_config
from .errors import KitError
from .safetensors import DTYPE_SIZES, SUPPORTED, dtype_name, read_header, read_safetensors, write_safetensors

SINGLE = "model.safetensors"
INDEX = "model.safetensors.index.json"
# The files that prompt a checkpoint, copied along with it (copy_from here,
# wo.py's recipe output, llmkit.variant): the one list of them.
# prompting.json is the kit's own (llmkit/variant.py, PROMPTING).
COPIED = ("tokenizer.json", "tokenizer_config.json", "generation_config.json",
          "special_tokens_map.json", "chat_template.jinja", "prompting.json")
_TORCH_NAMES = {"bfloat16": "BF16", "float16": "F16", "float32": "F32"}
_FROM_ST = {v: k for k, v in _TORCH_NAMES.items()}


def expected_tensors(cfg):
    """{HF tensor name: shape tuple} for cfg, in the order of transformers'
    state_dict() (modules in definition order: self_attn, mlp, then the two
    layer norms; a Linear's weight before its bias), which save_pretrained
    shards by."""
    D, V, F = cfg.hidden_size, cfg.vocab_size, cfg.intermediate_size
    H, KV, hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
    out = {"model.embed_tokens.weight": (V, D)}
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}."
        for proj, rows in (("q", H * hd), ("k", KV * hd), ("v", KV * hd)):
            out[p + f"self_attn.{proj}_proj.weight"] = (rows, D)
            if cfg.attention_bias:
                out[p + f"self_attn.{proj}_proj.bias"] = (rows,)
        out[p + "self_attn.o_proj.weight"] = (D, H * hd)
        if cfg.has_qk_norm:
            out[p + "self_attn.q_norm.weight"] = (hd,)
            out[p + "self_attn.k_norm.weight"] = (hd,)
        out[p + "mlp.gate_proj.weight"] = (F, D)
        out[p + "mlp.up_proj.weight"] = (F, D)
        out[p + "mlp.down_proj.weight"] = (D, F)
        out[p + "input_layernorm.weight"] = (D,)
        out[p + "post_attention_layernorm.weight"] = (D,)
    out["model.norm.weight"] = (D,)
    if not cfg.tie_word_embeddings:
        out["lm_head.weight"] = (V, D)
    return out


def _ignored(name):
    return name.startswith("model.layers.") and name.endswith(".self_attn.rotary_emb.inv_freq")


def _describe(cfg):
    tied = ", tied embeddings" if cfg.tie_word_embeddings else ""
    return f"a {cfg.model_type} checkpoint with {cfg.num_hidden_layers} layers{tied}"


def _shard_map(d):
    """{tensor name: file path} and the file that lists them (for errors)."""
    single, index = os.path.join(d, SINGLE), os.path.join(d, INDEX)
    has_single, has_index = os.path.isfile(single), os.path.isfile(index)
    if has_single and has_index:
        raise KitError(f"{d}: both {SINGLE} and {INDEX} are present; remove the stale one")
    if has_single:
        header, _, _ = read_header(single)
        return {n: single for n in header}, single, {single: header}
    if not has_index:
        raise KitError(f"{d}: no {SINGLE} or {INDEX}")
    try:
        with open(index, "rb") as f:
            obj = json.loads(f.read().decode("utf-8"))
    except OSError as e:
        raise KitError(f"{index}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise KitError(f"{index}: not valid UTF-8 (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise KitError(f"{index}: invalid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    wm = obj.get("weight_map") if isinstance(obj, dict) else None
    if not isinstance(wm, dict):
        raise KitError(f"{index}: field 'weight_map' is missing or not an object")
    headers, where = {}, {}
    for name, fname in sorted(wm.items()):
        if (not isinstance(fname, str) or os.path.basename(fname) != fname
                or not fname.endswith(".safetensors")):
            raise KitError(f"{index}: weight_map['{name}']: {json.dumps(fname)} is not a "
                           f".safetensors file name in the checkpoint directory")
        path = os.path.join(d, fname)
        if path not in headers:
            if not os.path.isfile(path):
                raise KitError(f"{index}: weight_map['{name}']: shard {fname} does not exist")
            headers[path] = read_header(path)[0]
        if name not in headers[path]:
            raise KitError(f"{path}: tensor '{name}' is listed in {INDEX} but not in this shard")
        where[name] = path
    for path, header in sorted(headers.items()):
        for name in sorted(header):
            if where.get(name) != path:
                raise KitError(f"{path}: unexpected tensor '{name}' (not listed for this shard in {INDEX})")
    return where, index, headers


def _check_tensor_set(cfg, found, shapes, dtypes, listing, dtype_source):
    """Checks names/shapes/dtypes of {name: file} against cfg; returns the
    names to load (expected_tensors' order; ignored buffers and a tied
    lm_head left out) and their one dtype ('BF16' | 'F16' | 'F32').
    dtype_source: (dtype, "why") the tensors must have, or None (the first
    tensor's)."""
    exp = expected_tensors(cfg)
    for name in exp:
        if name not in found:
            raise KitError(f"{listing}: missing tensor '{name}' (shape {list(exp[name])}, "
                           f"expected in {_describe(cfg)})")
    for name in sorted(found):
        if name not in exp and not _ignored(name) and not (
                name == "lm_head.weight" and cfg.tie_word_embeddings):
            raise KitError(f"{found[name]}: unexpected tensor '{name}' (not part of {_describe(cfg)})")
    keep = list(exp)  # state-dict order: the first tensor sets the dtype
    for name in sorted(exp):
        if tuple(shapes[name]) != exp[name]:
            raise KitError(f"{found[name]}: tensor '{name}' has shape {list(shapes[name])}, "
                           f"config.json implies {list(exp[name])}")
    want = dtype_source
    for name in keep:
        dt = dtypes[name]
        if dt not in SUPPORTED:
            raise KitError(f"{found[name]}: tensor '{name}': dtype {dt} is not supported "
                           f"(supported: {', '.join(SUPPORTED)})")
        if want is not None and dt != want[0]:
            raise KitError(f"{found[name]}: tensor '{name}' is {dt} but {want[1]} (mixed dtypes are not supported)")
        if want is None:
            want = (dt, f"tensor '{name}' is {dt}")
    return keep, want[0]


def _torch_dtype(dtype):
    import torch
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    table = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16,
             "fp16": torch.float16, "f16": torch.float16, "float32": torch.float32,
             "fp32": torch.float32, "f32": torch.float32}
    if dtype not in table:
        raise KitError(f"load_checkpoint: dtype '{dtype}' is not one of bfloat16, float16, float32")
    return table[dtype]


def load_checkpoint(d, dtype=None, device="cpu", names=None):
    """Loads a checkpoint directory -> (ModelConfig, {HF name: tensor}).

    dtype: None keeps the file's dtype (tensors then stay memory-mapped on the
    CPU); a torch dtype or 'bfloat16'/'float16'/'float32' converts. device:
    where the tensors go. names: load only these (the full set is still
    checked). Raises KitError naming the file and the tensor for missing or
    unexpected tensors, shape or dtype mismatches, and malformed files."""
    d = str(d)
    cfg = load_config(d)
    found, listing, headers = _shard_map(d)
    shapes, dtypes = {}, {}
    for path, header in headers.items():
        for name, info in header.items():
            if found.get(name) == path:
                shapes[name], dtypes[name] = info["shape"], info["dtype"]
    stated = cfg.raw.get("torch_dtype", cfg.raw.get("dtype")) is not None
    source = (_TORCH_NAMES[cfg.torch_dtype], f"config.json's torch_dtype is {cfg.torch_dtype}") if stated else None
    keep, file_dtype = _check_tensor_set(cfg, found, shapes, dtypes, listing, source)
    if not stated:  # the config then reports what the files hold
        cfg = dataclasses.replace(cfg, torch_dtype=_FROM_ST[file_dtype])
    wanted = keep if names is None else list(names)
    for name in wanted:
        if name not in keep:
            raise KitError(f"{d}: no tensor '{name}' in {_describe(cfg)}")
    tdt = _torch_dtype(dtype)
    by_file = {}
    for name in wanted:
        by_file.setdefault(found[name], []).append(name)
    check_tied = (cfg.tie_word_embeddings and "lm_head.weight" in found and names is None)
    if check_tied:
        by_file.setdefault(found["lm_head.weight"], []).append("lm_head.weight")
    out = {}
    for path in sorted(by_file):
        out.update(read_safetensors(path, by_file[path]))
    if check_tied:
        import torch
        lm = out.pop("lm_head.weight")
        if not torch.equal(lm, out["model.embed_tokens.weight"]):
            raise KitError(f"{found['lm_head.weight']}: tensor 'lm_head.weight' differs from "
                           f"model.embed_tokens.weight but tie_word_embeddings is true")
    for name in list(out):
        t = out[name]
        if tdt is not None and t.dtype != tdt:
            t = t.to(tdt)
        if str(device) != "cpu":
            t = t.to(device)
        out[name] = t
    return cfg, out


def _shards(order, nbytes, max_shard_bytes):
    """Groups names into shards as save_pretrained does (huggingface_hub's
    split_state_dict_into_shards_factory): in order, a new shard when the next
    tensor would take the current one past max_shard_bytes; a tensor larger
    than max_shard_bytes becomes a shard of its own at once, and the current
    shard goes on filling after it."""
    shards, cur, size = [], [], 0
    for name in order:
        n = nbytes[name]
        if n > max_shard_bytes:
            shards.append([name])
            continue
        if cur and size + n > max_shard_bytes:
            shards.append(cur)
            cur, size = [], 0
        cur.append(name)
        size += n
    if cur:
        shards.append(cur)
    return shards


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(d, cfg, tensors, max_shard_bytes=None, copy_from=None):
    """Writes cfg and {HF name: tensor} as a checkpoint directory d.

    All tensors must have one dtype (BF16/F16/F32); config.json's torch_dtype
    is set to it (as save_pretrained does). max_shard_bytes: shard when the
    tensors exceed it (None: one file). copy_from: a directory whose
    tokenizer.json, tokenizer_config.json, generation_config.json and
    special_tokens_map.json are copied when present (it may be d itself).
    The directory is replaced as a whole: written as d.tmp<pid>, then renamed
    (an existing d is moved aside first and removed after). Same inputs ->
    same bytes in every file. Returns the ModelConfig written (cfg with
    torch_dtype set). Raises KitError naming the tensor."""
    import torch
    d = os.path.abspath(str(d))
    where = f"save_checkpoint({d})"
    exp = expected_tensors(cfg)
    names = dict(tensors)
    for name, t in names.items():
        if not isinstance(t, torch.Tensor):
            raise KitError(f"{where}: tensor '{name}' is a {type(t).__name__}, not a torch.Tensor")
    found = {n: where for n in names}
    shapes = {n: list(t.shape) for n, t in names.items()}
    dtypes = {n: (dtype_name(t.dtype) or str(t.dtype)) for n, t in names.items()}
    keep, dt = _check_tensor_set(cfg, found, shapes, dtypes, where, None)
    if cfg.tie_word_embeddings and "lm_head.weight" in names:
        if not torch.equal(names["lm_head.weight"].cpu(), names["model.embed_tokens.weight"].cpu()):
            raise KitError(f"{where}: tensor 'lm_head.weight' differs from model.embed_tokens.weight "
                           f"but tie_word_embeddings is true")
    order = [n for n in exp if n in keep]
    out_cfg = dataclasses.replace(cfg, torch_dtype=_FROM_ST[dt])
    if max_shard_bytes is not None and (not isinstance(max_shard_bytes, int) or max_shard_bytes < 1):
        raise KitError(f"{where}: max_shard_bytes must be a positive integer, got {max_shard_bytes!r}")
    nbytes = {n: names[n].numel() * DTYPE_SIZES[dt] for n in order}
    shards = _shards(order, nbytes, max_shard_bytes) if max_shard_bytes else [order]

    copies = {}
    if copy_from is not None:
        for fname in COPIED:
            src = os.path.join(str(copy_from), fname)
            if os.path.isfile(src):
                try:
                    with open(src, "rb") as f:
                        copies[fname] = f.read()
                except OSError as e:
                    raise KitError(f"{src}: cannot read: {e.strerror}") from None

    parent = os.path.dirname(d)
    tmp = f"{d}.tmp{os.getpid()}"
    old = f"{d}.old{os.getpid()}"
    try:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
        os.makedirs(tmp)
        meta = {"format": "pt"}
        if len(shards) == 1:
            write_safetensors(os.path.join(tmp, SINGLE), {n: names[n] for n in order}, meta)
        else:
            weight_map = {}
            for i, shard in enumerate(shards):
                fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
                write_safetensors(os.path.join(tmp, fname), {n: names[n] for n in shard}, meta)
                weight_map.update({n: fname for n in shard})
            index = {"metadata": {"total_size": sum(nbytes.values())}, "weight_map": weight_map}
            _write(os.path.join(tmp, INDEX), json.dumps(index, indent=2, sort_keys=True) + "\n")
        _write(os.path.join(tmp, "config.json"), dumps_config(out_cfg.to_dict()))
        for fname, data in sorted(copies.items()):
            _write(os.path.join(tmp, fname), data)
        _fsync_dir(tmp)
        if os.path.lexists(d):
            os.rename(d, old)
        os.rename(tmp, d)
        _fsync_dir(parent)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if os.path.lexists(old) and not os.path.lexists(d):
            os.rename(old, d)
        raise KitError(f"{d}: cannot write the checkpoint: {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if os.path.lexists(old) and not os.path.lexists(d):
            os.rename(old, d)
        raise
    if os.path.isdir(old) and not os.path.islink(old):
        shutil.rmtree(old, ignore_errors=True)
    elif os.path.lexists(old):
        os.unlink(old)
    return out_cfg


def _write(path, data):
    mode = "wb" if isinstance(data, (bytes, bytearray)) else "w"
    with open(path, mode) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
