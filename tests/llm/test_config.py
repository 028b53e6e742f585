"""Tests of llmkit.config: transformers' defaults for llama/qwen2/qwen3,
config.json files shaped like the paper's models' (Llama-3.1-8B-Instruct,
Qwen2.5-14B-Instruct, Qwen3-8B; sizes as published on their model cards),
transformers 5's rope_parameters, to_dict round trips, and the exact message of
every refused field. Run by tests/llm/t0110-config.sh."""
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "stages", "llm"))

from tap import Tap  # noqa: E402

from llmkit.config import dumps_config, load_config, parse_config  # noqa: E402
from llmkit.errors import KitError  # noqa: E402

t = Tap()
tmp = tempfile.mkdtemp(prefix="llm-cfg-")
CJ = os.path.join(tmp, "config.json")


def write(d, raw=None):
    with open(CJ, "wb") as f:
        f.write(raw if raw is not None else json.dumps(d).encode())


def err(d=None, raw=None):
    write(d, raw)
    try:
        load_config(tmp)
    except KitError as e:
        return str(e)
    return "no error"


def msg_is(d, want, name, raw=None):
    got = err(d, raw)
    t.ok(got == f"{CJ}: {want}", name, f"got:  {got}\nwant: {CJ}: {want}")


def base(mt, **kw):
    d = {"model_type": mt, "vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
         "num_hidden_layers": 2, "num_attention_heads": 4}
    d.update(kw)
    return d


def fields(cfg):
    return (cfg.num_key_value_heads, cfg.head_dim, cfg.rms_norm_eps, cfg.rope_theta, cfg.rope_scaling,
            cfg.max_position_embeddings, cfg.tie_word_embeddings, cfg.attention_bias, cfg.torch_dtype)


# --- defaults as transformers' config classes -----------------------------
write(base("llama"))
c = load_config(tmp)
t.ok(fields(c) == (4, 16, 1e-6, 10000.0, None, 2048, False, False, "float32"),
     "llama defaults: kv=heads, head_dim=hidden/heads, eps 1e-6, theta 1e4, 2048 positions, untied, no bias",
     fields(c))
write(base("qwen2"))
c = load_config(CJ)
t.ok(fields(c) == (4, 16, 1e-6, 10000.0, None, 32768, False, True, "float32"),
     "qwen2 defaults: attention_bias true (q/k/v), 32768 positions", fields(c))
write(base("qwen3"))
c = load_config(tmp)
t.ok(fields(c) == (4, 128, 1e-6, 10000.0, None, 32768, False, False, "float32") and c.has_qk_norm,
     "qwen3 defaults: head_dim 128 (Qwen3Config), q/k norm", fields(c))
write(base("llama", num_key_value_heads=None, head_dim=None, torch_dtype=None))
t.ok(fields(load_config(tmp))[:2] == (4, 16), "null num_key_value_heads/head_dim take the defaults")

# --- the paper's families as published ------------------------------------
llama31 = {
    "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 131072, "mlp_bias": False, "model_type": "llama",
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1,
    "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                            "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "transformers_version": "4.43.0.dev0", "use_cache": True, "vocab_size": 128256}
write(llama31)
c = load_config(tmp)
t.ok((c.head_dim, c.n_rep, c.rope_theta, c.rope_scaling["factor"], c.eos_token_id, c.torch_dtype, c.rms_norm_eps)
     == (128, 4, 500000.0, 8.0, [128001, 128008, 128009], "bfloat16", 1e-5),
     "Llama-3.1-8B-Instruct config: GQA 32/8, llama3 rope scaling, eos list", c)
qwen25 = {
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 5120, "initializer_range": 0.02,
    "intermediate_size": 13824, "max_position_embeddings": 32768, "max_window_layers": 70,
    "model_type": "qwen2", "num_attention_heads": 40, "num_hidden_layers": 48, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 131072, "tie_word_embeddings": False,
    "torch_dtype": "bfloat16", "transformers_version": "4.43.1", "use_cache": True,
    "use_sliding_window": False, "vocab_size": 152064}
write(qwen25)
c = load_config(tmp)
t.ok((c.head_dim, c.n_rep, c.attention_bias, c.rope_scaling, c.has_qk_norm) == (128, 5, True, None, False),
     "Qwen2.5-14B-Instruct config: sliding window off is accepted, qkv bias", c)
qwen3 = {
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 12288,
    "max_position_embeddings": 40960, "max_window_layers": 36, "model_type": "qwen3",
    "num_attention_heads": 32, "num_hidden_layers": 36, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
    "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": False,
    "torch_dtype": "bfloat16", "transformers_version": "4.51.0", "use_cache": True,
    "use_sliding_window": False, "vocab_size": 151936}
write(qwen3)
c = load_config(tmp)
t.ok((c.head_dim, c.rope_theta, c.has_qk_norm) == (128, 1000000.0, True), "Qwen3-8B config", c)
# transformers 5 spelling: rope_parameters and dtype
v5 = dict(llama31)
del v5["rope_theta"], v5["rope_scaling"], v5["torch_dtype"]
v5["rope_parameters"] = dict(llama31["rope_scaling"], rope_theta=500000.0)
v5["dtype"] = "bfloat16"
write(v5)
c5 = load_config(tmp)
t.ok((c5.rope_theta, c5.rope_scaling, c5.torch_dtype) == (500000.0, load_config(tmp).rope_scaling, "bfloat16")
     and c5.rope_scaling["original_max_position_embeddings"] == 8192,
     "transformers 5's rope_parameters/dtype are read", c5)
write(dict(qwen3, rope_scaling=None, rope_theta=None,
           rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}))
c = load_config(tmp)
t.ok((c.rope_theta, c.rope_scaling) == (1000000.0, None), "rope_parameters of type default: no scaling", c)
write(dict(qwen25, rope_scaling={"type": "default"}))
t.ok(load_config(tmp).rope_scaling is None, "rope_scaling type default counts as none")

# --- to_dict: what save writes, read back equal, byte-stable --------------
for name, d in (("llama", llama31), ("qwen2", qwen25), ("qwen3", qwen3), ("v5", v5)):
    c = parse_config(d)
    out = c.to_dict()
    c2 = parse_config(json.loads(dumps_config(out)))
    same = fields(c2) == fields(c) and c2.eos_token_id == c.eos_token_id and c2.vocab_size == c.vocab_size
    stable = dumps_config(c2.to_dict()) == dumps_config(out)
    kept = out.get("transformers_version") == d.get("transformers_version")
    t.ok(same and stable and kept and "rope_parameters" not in out,
         f"to_dict round trip and byte-stable text ({name})", dumps_config(out))
t.ok(dumps_config({"b": 1, "a": [1, 2]}) == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n',
     "dumps_config: indent 2, sorted keys, trailing newline (as transformers)")

# --- refused and malformed fields: exact messages -------------------------
msg_is({k: v for k, v in llama31.items() if k != "model_type"},
       "field 'model_type' is required but missing", "error: model_type missing")
msg_is(dict(llama31, model_type="mistral"),
       "field 'model_type': \"mistral\" is not supported (supported: llama, qwen2, qwen3)",
       "error: unknown model_type")
msg_is(dict(llama31, architectures=["LlamaForSequenceClassification"]),
       "field 'architectures': [\"LlamaForSequenceClassification\"] is not supported for llama "
       "(supported: [\"LlamaForCausalLM\"])", "error: architectures other than the CausalLM")
msg_is(dict(llama31, hidden_act="gelu"), "field 'hidden_act': \"gelu\" is not supported (supported: silu)",
       "error: hidden_act not silu")
msg_is(dict(qwen25, rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}),
       "field 'rope_scaling': rope type \"yarn\" is not supported (supported: llama3, default/none)",
       "error: rope_scaling yarn (legacy 'type' key)")
msg_is(dict(llama31, rope_scaling={"rope_type": "linear", "factor": 2.0}),
       "field 'rope_scaling': rope type \"linear\" is not supported (supported: llama3, default/none)",
       "error: rope_scaling linear")
msg_is(dict(v5, rope_parameters={"rope_type": "dynamic", "factor": 2.0, "rope_theta": 1e4}),
       "field 'rope_parameters': rope type \"dynamic\" is not supported (supported: llama3, default/none)",
       "error: rope_parameters dynamic")
rs = {k: v for k, v in llama31["rope_scaling"].items() if k != "low_freq_factor"}
msg_is(dict(llama31, rope_scaling=rs), "field 'rope_scaling': llama3 scaling needs 'low_freq_factor'",
       "error: llama3 scaling without low_freq_factor")
msg_is(dict(llama31, rope_scaling=dict(llama31["rope_scaling"], factor="8")),
       "field 'rope_scaling': 'factor' must be a positive number, got \"8\"", "error: llama3 factor not a number")
msg_is(dict(llama31, rope_scaling=dict(llama31["rope_scaling"], high_freq_factor=1.0)),
       "field 'rope_scaling': high_freq_factor must exceed low_freq_factor", "error: llama3 factors inverted")
msg_is(dict(llama31, rope_scaling="llama3"),
       "field 'rope_scaling': expected an object or null, got \"llama3\"", "error: rope_scaling not an object")
msg_is(dict(qwen25, use_sliding_window=True),
       "field 'use_sliding_window': sliding-window attention is not supported", "error: sliding window enabled")
msg_is(dict(qwen3, layer_types=["full_attention"] * 35 + ["sliding_attention"]),
       "field 'layer_types': only full_attention layers are supported", "error: sliding layer in layer_types")
msg_is(dict(llama31, partial_rotary_factor=0.5),
       "field 'partial_rotary_factor': 0.5 is not supported (RoPE over the whole head_dim only)",
       "error: partial rotary embedding")
msg_is(dict(llama31, mlp_bias=True), "field 'mlp_bias': MLP biases are not supported", "error: mlp_bias true")
msg_is(dict(llama31, attention_bias=True),
       "field 'attention_bias': true is not supported for llama (q/k/v/o biases)", "error: llama attention_bias true")
msg_is(dict(qwen3, attention_bias=True),
       "field 'attention_bias': true is not supported for qwen3 (q/k/v/o biases)", "error: qwen3 attention_bias true")
msg_is(dict(qwen25, attention_bias=False),
       "field 'attention_bias': false is not supported for qwen2 (Qwen2Attention always has q/k/v biases)",
       "error: qwen2 attention_bias false")
msg_is({k: v for k, v in qwen3.items() if k != "vocab_size"},
       "field 'vocab_size' is required but missing", "error: a required size missing")
msg_is(dict(qwen3, hidden_size="4096"), "field 'hidden_size': expected an integer, got \"4096\"",
       "error: size of the wrong type")
msg_is(dict(qwen3, num_hidden_layers=True), "field 'num_hidden_layers': expected an integer, got true",
       "error: a boolean is not an integer")
msg_is(dict(qwen3, num_attention_heads=0), "field 'num_attention_heads': 0 is below 1", "error: zero heads")
msg_is(dict(qwen3, num_key_value_heads=5),
       "field 'num_key_value_heads': 5 does not divide num_attention_heads 32", "error: kv heads do not divide heads")
msg_is(dict(base("llama"), hidden_size=66),
       "field 'head_dim': absent, and hidden_size 66 is not a multiple of num_attention_heads 4",
       "error: no head_dim and hidden not divisible")
msg_is(dict(qwen3, head_dim=127), "field 'head_dim': 127 is odd (RoPE rotates pairs)", "error: odd head_dim")
msg_is(dict(qwen3, rms_norm_eps="1e-6"), "field 'rms_norm_eps': expected a number, got \"1e-6\"",
       "error: eps not a number")
msg_is(dict(qwen3, rope_theta=-1), "field 'rope_theta': -1 is not positive", "error: negative rope_theta")
msg_is(dict(qwen3, tie_word_embeddings="yes"), "field 'tie_word_embeddings': expected true or false, got \"yes\"",
       "error: tie_word_embeddings not a boolean")
msg_is(dict(qwen3, torch_dtype="float64"),
       "field 'torch_dtype': \"float64\" is not supported (supported: bfloat16, float16, float32)",
       "error: torch_dtype float64")
msg_is(dict(qwen3, eos_token_id="</s>"),
       "field 'eos_token_id': expected an integer or a list of integers, got \"</s>\"", "error: eos_token_id a string")
msg_is(None, "invalid JSON: Expecting ',' delimiter at line 2 column 3", "error: invalid JSON (line, column)",
       raw=b'{"model_type": "llama"\n  "vocab_size": 3}')
msg_is(None, "not valid UTF-8 (byte 16)", "error: config.json not UTF-8", raw=b'{"model_type": "\xff"}')
msg_is(None, "not a JSON object", "error: config.json not an object", raw=b"[1]")
os.unlink(CJ)
try:
    load_config(tmp)
    got = "no error"
except KitError as e:
    got = str(e)
t.ok(got == f"{CJ}: cannot read: No such file or directory", "error: no config.json", got)

import shutil  # noqa: E402
shutil.rmtree(tmp)
sys.exit(t.done())
