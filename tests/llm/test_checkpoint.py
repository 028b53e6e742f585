"""Tests of llmkit.checkpoint and llmkit.tiny: tensor tables per family, round
trips of tiny random checkpoints (fp32, bf16, fp16), byte-stable re-save,
sharded round trips with transformers' index layout, memory-mapped loads,
copy_from, atomic replacement, and the exact message of every checkpoint
error (missing/unexpected tensors, shapes, dtypes, index problems). Run by
tests/llm/t0120-checkpoint.sh."""
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "stages", "llm"))

import torch  # noqa: E402
from tap import Tap  # noqa: E402

from llmkit import checkpoint as ck  # noqa: E402
from llmkit.checkpoint import expected_tensors, load_checkpoint, save_checkpoint  # noqa: E402
from llmkit.errors import KitError  # noqa: E402
from llmkit.safetensors import read_header, read_safetensors, write_safetensors  # noqa: E402
from llmkit.tiny import random_tensors, tiny_config  # noqa: E402

t = Tap()
tmp = tempfile.mkdtemp(prefix="llm-ck-")


def p(*parts):
    return os.path.join(tmp, *parts)


def msg_is(fn, want, name):
    t.msg_is(fn, KitError, want, name)


def tree(d):
    """{relative file name: bytes} of a directory."""
    out = {}
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            out[name] = f.read()
    return out


def same_tensors(a, b):
    return set(a) == set(b) and all(a[n].dtype == b[n].dtype and torch.equal(a[n], b[n]) for n in a)


# --- tensor tables --------------------------------------------------------
cfgs = {f: tiny_config(f, 96, layers=2) for f in ("llama", "qwen2", "qwen3")}
counts = {f: len(expected_tensors(c)) for f, c in cfgs.items()}
t.ok(counts == {"llama": 21, "qwen2": 26, "qwen3": 25},
     "tensor counts: llama 1+2x9+1+1, qwen2 tied 1+2x12+1, qwen3 1+2x11+1+1", counts)
e3 = expected_tensors(cfgs["qwen3"])
t.ok(e3["model.layers.1.self_attn.q_proj.weight"] == (128, 64) and e3["model.layers.1.self_attn.o_proj.weight"]
     == (64, 128) and e3["model.layers.0.self_attn.k_norm.weight"] == (32,)
     and e3["model.layers.0.self_attn.k_proj.weight"] == (64, 64),
     "qwen3 shapes with head_dim 32 != hidden/heads (q [H*hd, D], o [D, H*hd], k_norm [hd])")
e2 = expected_tensors(cfgs["qwen2"])
t.ok("lm_head.weight" not in e2 and e2["model.layers.0.self_attn.v_proj.bias"] == (32,)
     and "model.layers.0.self_attn.o_proj.bias" not in e2, "qwen2: tied (no lm_head), q/k/v biases, no o bias")
l = cfgs["llama"]
t.ok(l.rope_scaling == {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                        "original_max_position_embeddings": 8192} and not l.tie_word_embeddings,
     "tiny llama has Llama 3.1's rope_scaling, untied head")

# --- tiny random tensors: deterministic, seed-dependent -------------------
r1, r2, r3 = (random_tensors(cfgs["qwen3"], s) for s in (5, 5, 6))
t.ok(same_tensors(r1, r2), "random_tensors: same seed -> same values")
t.ok(not torch.equal(r1["model.embed_tokens.weight"], r3["model.embed_tokens.weight"]),
     "random_tensors: another seed -> other values")
t.ok(random_tensors(cfgs["qwen3"], 5, torch.bfloat16)["model.norm.weight"].dtype == torch.bfloat16,
     "random_tensors: dtype argument")

# --- round trips and byte-stable re-save per family and dtype --------------
# each family in one of the three dtypes (every dtype's bits are checked on
# all special values in test_safetensors.py; saves cost fsyncs)
for fam, dt in (("llama", torch.bfloat16), ("qwen2", torch.float32), ("qwen3", torch.float16)):
    cfg = cfgs[fam]
    tag = str(dt).split(".")[1]
    d = p(f"{fam}-{tag}")
    tens = random_tensors(cfg, 1, dt)
    save_checkpoint(d, cfg, tens)
    c2, back = load_checkpoint(d)
    t.ok(same_tensors(tens, back) and c2.torch_dtype == tag and c2.model_type == fam
         and c2.head_dim == cfg.head_dim and c2.rope_scaling == cfg.rope_scaling,
         f"round trip {fam} {tag}: tensors bit-equal, dtype kept, config equal")
    save_checkpoint(d + "-re", c2, back)
    t.ok(tree(d) == tree(d + "-re"), f"re-save {fam} {tag}: every file byte-identical")
d32 = p("qwen2-float32")
t.ok(sorted(os.listdir(d32)) == ["config.json", "model.safetensors"], "layout: config.json + model.safetensors")
_, md, _ = read_header(os.path.join(d32, "model.safetensors"))
t.ok(md == {"format": "pt"}, "__metadata__ {format: pt} as transformers writes", md)
shuffled = dict(sorted(random_tensors(cfgs["qwen2"], 1).items(), reverse=True))
save_checkpoint(p("qwen2-shuffled"), cfgs["qwen2"], shuffled)
t.ok(tree(p("qwen2-shuffled")) == tree(d32), "same tensors in another dict order -> same files")

# mmap load equals a plain read; dtype/names/device arguments
_, mm = load_checkpoint(p("llama-bfloat16"))
plain = read_safetensors(p("llama-bfloat16", "model.safetensors"), mmap=False)
t.ok(same_tensors(mm, plain), "mmap load equals a plain (non-mmap) read")
_, f32 = load_checkpoint(p("llama-bfloat16"), dtype="float32")
t.ok(all(v.dtype == torch.float32 for v in f32.values())
     and torch.equal(f32["lm_head.weight"], plain["lm_head.weight"].float()), "dtype='float32' converts on load")
_, some = load_checkpoint(p("llama-bfloat16"), names=["model.norm.weight"], device="cpu")
t.ok(list(some) == ["model.norm.weight"], "names= loads only those tensors")
msg_is(lambda: load_checkpoint(p("llama-bfloat16"), names=["lm_head.bias"]),
       f"{p('llama-bfloat16')}: no tensor 'lm_head.bias' in a llama checkpoint with 2 layers",
       "names= with a name outside the checkpoint")

# --- sharded checkpoints --------------------------------------------------
cfg = cfgs["qwen3"]
tens = random_tensors(cfg, 3, torch.bfloat16)
save_checkpoint(p("sh"), cfg, tens, max_shard_bytes=20000)
files = sorted(os.listdir(p("sh")))
with open(p("sh", "model.safetensors.index.json")) as f:
    idx = json.load(f)
shards = sorted(set(idx["weight_map"].values()))
n = len(shards)
t.ok(n >= 3 and files == ["config.json"] + [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
     + ["model.safetensors.index.json"], "sharded layout: model-0000i-of-0000n + index", files)
total = sum(v.numel() * 2 for v in tens.values())
t.ok(idx["metadata"] == {"total_size": total} and set(idx["weight_map"]) == set(tens),
     "index: total_size in bytes and a weight_map of every tensor", idx["metadata"])
with open(p("sh", "model.safetensors.index.json")) as f:
    t.ok(f.read() == json.dumps(idx, indent=2, sort_keys=True) + "\n", "index written with indent 2, sorted keys")
order = list(expected_tensors(cfg))
sizes = {nm: tens[nm].numel() * 2 for nm in order}
placed = [idx["weight_map"][nm] for nm in order]
monotone = placed == sorted(placed)
fits = all(sum(sizes[nm] for nm in order if idx["weight_map"][nm] == s) <= 20000
           or sum(1 for nm in order if idx["weight_map"][nm] == s) == 1 for s in shards)
greedy = all(sum(sizes[nm] for nm in order if idx["weight_map"][nm] == shards[i]) + sizes[
    next(nm for nm in order if idx["weight_map"][nm] == shards[i + 1])] > 20000 for i in range(n - 1))
t.ok(monotone and fits and greedy, "shards: state-dict order, each <= max (or one big tensor), filled greedily")
c2, back = load_checkpoint(p("sh"))
t.ok(same_tensors(tens, back), "sharded round trip: tensors bit-equal")
save_checkpoint(p("sh-re"), c2, back, max_shard_bytes=20000)
t.ok(tree(p("sh")) == tree(p("sh-re")), "sharded re-save: every file byte-identical")
save_checkpoint(p("sh-one"), c2, back, max_shard_bytes=10 ** 9)
t.ok(sorted(os.listdir(p("sh-one"))) == ["config.json", "model.safetensors"],
     "max_shard_bytes above the total writes one model.safetensors (as transformers)")
sizes = {"a": 6, "b": 6, "c": 2, "d": 6, "e": 2, "f": 2}
t.ok(ck._shards(list(sizes), sizes, 10) == [["a"], ["b", "c"], ["d", "e", "f"]],
     "shard grouping: huggingface_hub's example [6], [6+2], [6+2+2] for a 10-byte limit")
sizes = {"a": 3, "big": 12, "c": 4, "d": 5}
t.ok(ck._shards(list(sizes), sizes, 10) == [["big"], ["a", "c"], ["d"]],
     "shard grouping: an oversized tensor becomes a shard at once, the open shard goes on filling")
save_checkpoint(p("sh-tiny"), c2, back, max_shard_bytes=1)
t.ok(len(os.listdir(p("sh-tiny"))) == len(tens) + 2, "a tensor larger than max_shard_bytes gets a shard of its own")

# --- copy_from, in-place save, atomic replacement -------------------------
for fname, text in (("tokenizer.json", "{}"), ("tokenizer_config.json", '{"a": 1}'),
                    ("generation_config.json", "{}"), ("other.txt", "x")):
    with open(p("sh", fname), "w") as f:
        f.write(text)
c, tt = load_checkpoint(p("sh"))
save_checkpoint(p("sh"), c, tt, copy_from=p("sh"))
got = sorted(os.listdir(p("sh")))
t.ok(got == ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
             "tokenizer_config.json"], "in-place save from mmap-loaded tensors, copy_from keeps tokenizer files", got)
_, again = load_checkpoint(p("sh"))
t.ok(same_tensors(again, tens), "in-place save: values intact")
before = tree(p("sh"))
real_write = ck.write_safetensors
calls = []


def failing_write(path, tensors, metadata=None):
    calls.append(path)
    if len(calls) == 2:
        raise KitError("simulated failure while writing")
    real_write(path, tensors, metadata)


ck.write_safetensors = failing_write
msg_is(lambda: save_checkpoint(p("sh"), c, tt, max_shard_bytes=20000), "simulated failure while writing",
       "a failure part-way through a sharded save is reported")
ck.write_safetensors = real_write
t.ok(tree(p("sh")) == before and not [x for x in os.listdir(tmp) if ".tmp" in x or ".old" in x],
     "... and leaves the old checkpoint intact and no temporary directory", os.listdir(tmp))
with open(p("afile"), "w") as f:
    f.write("x")
save_checkpoint(p("afile"), c, tt)
t.ok(os.path.isdir(p("afile")) and not [x for x in os.listdir(tmp) if ".old" in x],
     "saving over a plain file replaces it and leaves nothing aside")
msg_is(lambda: save_checkpoint(p("new"), c, {k: v for k, v in tt.items() if k != "model.norm.weight"}),
       f"save_checkpoint({p('new')}): missing tensor 'model.norm.weight' (shape [64], expected in a qwen3 "
       f"checkpoint with 2 layers)", "save: missing tensor named")
t.ok(not os.path.exists(p("new")), "... and nothing written")
msg_is(lambda: save_checkpoint(p("new"), c, dict(tt, **{"model.norm.weight": tt["model.norm.weight"].float()})),
       f"save_checkpoint({p('new')}): tensor 'model.norm.weight' is F32 but tensor "
       f"'model.embed_tokens.weight' is BF16 (mixed dtypes are not supported)", "save: mixed dtypes named")
msg_is(lambda: save_checkpoint(p("new"), c, {k: v.double() for k, v in tt.items()}),
       f"save_checkpoint({p('new')}): tensor 'model.embed_tokens.weight': dtype torch.float64 is not supported "
       f"(supported: BF16, F16, F32)", "save: unsupported dtype named")

# --- load errors: exact messages ------------------------------------------
base = p("qwen2-float32")
cfg2 = cfgs["qwen2"]
good = random_tensors(cfg2, 1)
ST = "model.safetensors"


def variant(name, tensors=None, config=None, shards=None):
    """A copy of the qwen2 fp32 checkpoint with its tensors or config edited."""
    d = p(name)
    shutil.copytree(base, d)
    if tensors is not None:
        write_safetensors(os.path.join(d, ST), tensors, {"format": "pt"})
    if config is not None:
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(config, f)
    return d


with open(os.path.join(base, "config.json")) as f:
    cj = json.load(f)
d = variant("missing", {k: v for k, v in good.items() if k != "model.layers.1.mlp.up_proj.weight"})
msg_is(lambda: load_checkpoint(d), f"{d}/{ST}: missing tensor 'model.layers.1.mlp.up_proj.weight' (shape [128, 64], "
       f"expected in a qwen2 checkpoint with 2 layers, tied embeddings)", "load: missing tensor names file and tensor")
d = variant("unexpected", dict(good, **{"model.layers.2.mlp.up_proj.weight": torch.zeros(128, 64)}))
msg_is(lambda: load_checkpoint(d), f"{d}/{ST}: unexpected tensor 'model.layers.2.mlp.up_proj.weight' (not part of "
       f"a qwen2 checkpoint with 2 layers, tied embeddings)", "load: unexpected tensor names file and tensor")
d = variant("shape", dict(good, **{"model.layers.0.self_attn.k_proj.bias": torch.zeros(16)}))
msg_is(lambda: load_checkpoint(d), f"{d}/{ST}: tensor 'model.layers.0.self_attn.k_proj.bias' has shape [16], "
       f"config.json implies [32]", "load: shape mismatch names file and tensor")
d = variant("cfgdtype", config=dict(cj, torch_dtype="bfloat16"))
msg_is(lambda: load_checkpoint(d), f"{d}/{ST}: tensor 'model.embed_tokens.weight' is F32 but config.json's "
       f"torch_dtype is bfloat16 (mixed dtypes are not supported)", "load: dtype differs from config.json")
nodt = {k: v for k, v in cj.items() if k != "torch_dtype"}
d = variant("mixed", dict(good, **{"model.norm.weight": good["model.norm.weight"].half()}), config=nodt)
msg_is(lambda: load_checkpoint(d), f"{d}/{ST}: tensor 'model.norm.weight' is F16 but tensor "
       f"'model.embed_tokens.weight' is F32 (mixed dtypes are not supported)", "load: mixed dtypes")
d = variant("nodtype", {k: v.half() for k, v in good.items()}, config=dict(cj, torch_dtype=None))
t.ok(load_checkpoint(d)[0].torch_dtype == "float16", "load: without torch_dtype the config reports the files' dtype")
d = variant("f64", config=nodt)
with open(os.path.join(d, ST), "rb") as f:
    raw = f.read()
raw = raw.replace(b'"model.norm.weight":{"dtype":"F32","shape":[64]',
                  b'"model.norm.weight":{"dtype":"F64","shape":[32]')
with open(os.path.join(d, ST), "wb") as f:
    f.write(raw)
msg_is(lambda: load_checkpoint(d), f"{d}/{ST}: tensor 'model.norm.weight' has shape [32], config.json implies [64]",
       "load: F64 tensor with its own shape is caught as a shape mismatch first")
raw = raw.replace(b'"model.norm.weight":{"dtype":"F64","shape":[32]', b'"model.norm.weight":{"dtype":"I32","shape":[64]')
with open(os.path.join(d, ST), "wb") as f:
    f.write(raw)
msg_is(lambda: load_checkpoint(d), f"{d}/{ST}: tensor 'model.norm.weight': dtype I32 is not supported "
       f"(supported: BF16, F16, F32)", "load: unsupported dtype names file and tensor")
d = variant("model_type", config=dict(cj, model_type="gemma"))
msg_is(lambda: load_checkpoint(d), f"{d}/config.json: field 'model_type': \"gemma\" is not supported "
       f"(supported: llama, qwen2, qwen3)", "load: unknown model_type names config.json")
d = variant("truncated")
hdr, _, start = read_header(os.path.join(d, ST))
last = max(hdr, key=lambda k: hdr[k]["data_offsets"])
b, e = hdr[last]["data_offsets"]
with open(os.path.join(d, ST), "r+b") as f:
    f.truncate(start + e - 100)
msg_is(lambda: load_checkpoint(d), f"{d}/{ST}: tensor '{last}' data_offsets [{b}, {e}] go beyond the end of the "
       f"file ({start + e - 100} bytes, data starts at byte {start}): truncated file?",
       "load: truncated model.safetensors names file and tensor")
d = variant("tied-lm", dict(good, **{"lm_head.weight": good["model.embed_tokens.weight"].clone()}))
_, tl = load_checkpoint(d)
t.ok("lm_head.weight" not in tl and same_tensors(tl, good), "load: tied checkpoint with an equal lm_head is accepted")
d = variant("tied-lm2", dict(good, **{"lm_head.weight": good["model.embed_tokens.weight"] + 1}))
msg_is(lambda: load_checkpoint(d), f"{d}/{ST}: tensor 'lm_head.weight' differs from model.embed_tokens.weight "
       f"but tie_word_embeddings is true", "load: tied checkpoint with a different lm_head")
d = variant("invfreq", dict(good, **{"model.layers.0.self_attn.rotary_emb.inv_freq": torch.ones(8)}))
t.ok(same_tensors(load_checkpoint(d)[1], good), "load: rotary_emb.inv_freq buffers are ignored")
d = variant("empty")
os.unlink(os.path.join(d, ST))
msg_is(lambda: load_checkpoint(d), f"{d}: no model.safetensors or model.safetensors.index.json",
       "load: no weights file")

# index problems
IX = "model.safetensors.index.json"


def sh_variant(name, edit_index=None):
    d = p(name)
    shutil.copytree(p("sh-re"), d)
    if edit_index is not None:
        with open(os.path.join(d, IX)) as f:
            ix = json.load(f)
        edit_index(ix)
        with open(os.path.join(d, IX), "w") as f:
            json.dump(ix, f)
    return d


d = sh_variant("both")
shutil.copy(os.path.join(base, ST), os.path.join(d, ST))
msg_is(lambda: load_checkpoint(d), f"{d}: both model.safetensors and {IX} are present; remove the stale one",
       "load: both a single file and an index")
d = sh_variant("ix-missing", lambda ix: ix["weight_map"].pop("model.layers.0.input_layernorm.weight"))
first = idx["weight_map"]["model.layers.0.input_layernorm.weight"]
msg_is(lambda: load_checkpoint(d), f"{d}/{first}: unexpected tensor 'model.layers.0.input_layernorm.weight' "
       f"(not listed for this shard in {IX})", "index: a shard's tensor not in the weight_map")
d = sh_variant("ix-extra", lambda ix: ix["weight_map"].update({"model.layers.0.mlp.up_proj.bias": first}))
msg_is(lambda: load_checkpoint(d), f"{d}/{first}: tensor 'model.layers.0.mlp.up_proj.bias' is listed in {IX} "
       f"but not in this shard", "index: a listed tensor absent from its shard")
d = sh_variant("ix-noshard")
os.unlink(os.path.join(d, shards[-1]))
last = sorted(k for k, v in idx["weight_map"].items() if v == shards[-1])[0]
msg_is(lambda: load_checkpoint(d), f"{d}/{IX}: weight_map['{last}']: shard {shards[-1]} does not exist",
       "index: a shard file missing")
d = sh_variant("ix-path", lambda ix: ix["weight_map"].update({"model.norm.weight": "../x.safetensors"}))
msg_is(lambda: load_checkpoint(d), f"{d}/{IX}: weight_map['model.norm.weight']: \"../x.safetensors\" is not a "
       f".safetensors file name in the checkpoint directory", "index: a shard path outside the directory")
d = sh_variant("ix-nomap", lambda ix: ix.pop("weight_map"))
msg_is(lambda: load_checkpoint(d), f"{d}/{IX}: field 'weight_map' is missing or not an object", "index: no weight_map")
d = sh_variant("ix-json")
with open(os.path.join(d, IX), "w") as f:
    f.write('{"weight_map": {,}}')
msg_is(lambda: load_checkpoint(d), f"{d}/{IX}: invalid JSON: Expecting property name enclosed in double quotes "
       f"at line 1 column 17", "index: invalid JSON")
d = sh_variant("ix-missing-tensor")
with open(os.path.join(d, IX)) as f:
    ix = json.load(f)
victim = "model.layers.1.self_attn.q_norm.weight"
shard = ix["weight_map"].pop(victim)
with open(os.path.join(d, IX), "w") as f:
    json.dump(ix, f)
sd = read_safetensors(os.path.join(d, shard), mmap=False)
del sd[victim]
write_safetensors(os.path.join(d, shard), sd, {"format": "pt"})
msg_is(lambda: load_checkpoint(d), f"{d}/{IX}: missing tensor '{victim}' (shape [32], expected in a qwen3 "
       f"checkpoint with 2 layers)", "index: a tensor missing from every shard names the index")

shutil.rmtree(tmp)
sys.exit(t.done())
