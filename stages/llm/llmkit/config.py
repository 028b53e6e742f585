"""config.json of a Hugging Face checkpoint -> ModelConfig, for the llama,
qwen2 and qwen3 families; fields the kit does not implement are refused by
name instead of being silently ignored. The one home of config parsing.

Defaults follow transformers' LlamaConfig, Qwen2Config and Qwen3Config
(configuration_llama.py, configuration_qwen2.py, configuration_qwen3.py):
  num_key_value_heads  absent or null -> num_attention_heads
  head_dim             absent or null -> hidden_size // num_attention_heads
                       for llama and qwen2; 128 for qwen3 (Qwen3Config's default)
  rms_norm_eps 1e-6, rope_theta 10000.0, hidden_act "silu",
  tie_word_embeddings false,
  max_position_embeddings 2048 (llama) / 32768 (qwen2, qwen3)
  attention_bias       llama, qwen3: false (default); qwen2: always true, as
                       Qwen2Attention always has q/k/v biases (o_proj none)
  rope_scaling         null; transformers 5's "rope_parameters"
                       ({rope_type, rope_theta, ...}) is read as rope_theta +
                       rope_scaling when the older keys are absent
  torch_dtype          "dtype" (transformers 5) or "torch_dtype"; absent ->
                       "float32", what from_pretrained loads by default
Required: model_type, vocab_size, hidden_size, intermediate_size,
num_hidden_layers, num_attention_heads (transformers has defaults for them,
but every real checkpoint sets them and a missing one means a broken file).

Refused (KitError naming config.json and the field), as the kit's decoder
(llmkit/model.py) does not implement them:
  model_type other than llama / qwen2 / qwen3; architectures other than
  [<Family>ForCausalLM]; hidden_act other than silu; rope_scaling types other
  than llama3 (rope_type/type "default" counts as none); sliding-window
  attention (use_sliding_window true, or layer_types other than
  full_attention); partial_rotary_factor other than 1; mlp_bias true;
  attention_bias true on llama or qwen3 (it adds an o_proj bias as well; no
  checkpoint of the paper's models has it); attention_bias false on qwen2
  (transformers ignores it and keeps the biases, so such a file is
  inconsistent); an odd head_dim.
Accepted and ignored (no effect at inference in fp32/bf16 with the kit's
decoder): attention_dropout, pretraining_tp (a split matmul, same result),
initializer_range, use_cache, transformers_version, max_window_layers and
sliding_window while sliding windows are off, and any field not named here.
"""
import dataclasses
import json
import os
from typing import Optional, Union

from .errors import KitError

FAMILIES = ("llama", "qwen2", "qwen3")
ARCHITECTURES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM",
                 "qwen3": "Qwen3ForCausalLM"}
TORCH_DTYPES = ("bfloat16", "float16", "float32")
LLAMA3_KEYS = ("factor", "low_freq_factor", "high_freq_factor",
               "original_max_position_embeddings")
_MAX_POS = {"llama": 2048, "qwen2": 32768, "qwen3": 32768}


@dataclasses.dataclass
class ModelConfig:
    """A decoder's shape and options (HF field names and meanings).

    rope_scaling: None, or the llama3 dict {"rope_type": "llama3", "factor",
    "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}
    (Llama 3.1's frequency-dependent RoPE scaling). raw: the full config.json
    as read (fields the kit ignores are kept and written back by to_dict)."""
    model_type: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: Optional[dict] = None
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = False
    attention_bias: bool = False
    torch_dtype: str = "float32"
    bos_token_id: Optional[int] = None
    eos_token_id: Union[int, list, None] = None
    raw: dict = dataclasses.field(default_factory=dict)

    @property
    def has_qk_norm(self):
        """qwen3 applies an RMSNorm over head_dim to q and k before RoPE."""
        return self.model_type == "qwen3"

    @property
    def n_rep(self):
        """How many query heads share one key/value head (GQA)."""
        return self.num_attention_heads // self.num_key_value_heads

    def to_dict(self):
        """The config.json content: raw's fields (kept for fidelity) updated
        with this config's values, in HF's spelling (rope_theta/rope_scaling,
        torch_dtype). Serialise with dumps_config for byte-stable files."""
        d = dict(self.raw)
        d.pop("rope_parameters", None)
        d.pop("dtype", None)
        d.update({
            "architectures": [ARCHITECTURES[self.model_type]],
            "model_type": self.model_type,
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": dict(self.rope_scaling) if self.rope_scaling else None,
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_word_embeddings,
            "torch_dtype": self.torch_dtype,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
        })
        if self.model_type != "qwen2" or "attention_bias" in self.raw:
            d["attention_bias"] = self.attention_bias
        return d


def dumps_config(d):
    """config.json text as transformers writes it (indent 2, sorted keys,
    trailing newline): the same dict always gives the same bytes."""
    return json.dumps(d, indent=2, sort_keys=True) + "\n"


def _where(path, field):
    return f"{path}: field '{field}'"


def _get_int(d, path, field, default=None, required=False, minimum=1):
    if field not in d or d[field] is None:
        if required:
            raise KitError(f"{_where(path, field)} is required but missing")
        return default
    v = d[field]
    if isinstance(v, bool) or not isinstance(v, int):
        raise KitError(f"{_where(path, field)}: expected an integer, got {json.dumps(v)}")
    if v < minimum:
        raise KitError(f"{_where(path, field)}: {v} is below {minimum}")
    return v


def _get_float(d, path, field, default, positive=True):
    if field not in d or d[field] is None:
        return default
    v = d[field]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise KitError(f"{_where(path, field)}: expected a number, got {json.dumps(v)}")
    if positive and not v > 0:
        raise KitError(f"{_where(path, field)}: {v} is not positive")
    return float(v)


def _get_bool(d, path, field, default):
    if field not in d or d[field] is None:
        return default
    v = d[field]
    if not isinstance(v, bool):
        raise KitError(f"{_where(path, field)}: expected true or false, got {json.dumps(v)}")
    return v


def _token_ids(d, path, field, vocab=None):
    """A token id field (int or list of ints), each id in [0, vocab)."""
    v = d.get(field)
    if v is None:
        return None
    if isinstance(v, bool) or not (isinstance(v, int) or (
            isinstance(v, list) and v and all(isinstance(x, int) and not isinstance(x, bool) for x in v))):
        raise KitError(f"{_where(path, field)}: expected an integer or a list of integers, got {json.dumps(v)}")
    for x in (v if isinstance(v, list) else [v]):
        if x < 0 or (vocab is not None and x >= vocab):
            raise KitError(f"{_where(path, field)}: token id {x} is outside the vocabulary "
                           f"(vocab_size {vocab})")
    return v


def _rope(d, path):
    """(rope_theta, rope_scaling or None) from rope_theta/rope_scaling or
    transformers 5's rope_parameters."""
    scaling_field = "rope_scaling"
    scaling = d.get("rope_scaling")
    theta = _get_float(d, path, "rope_theta", None)
    if theta is None and scaling is None and isinstance(d.get("rope_parameters"), dict):
        params = d["rope_parameters"]
        theta = _get_float(params, path, "rope_theta", None)
        scaling_field = "rope_parameters"
        scaling = params
    elif theta is None and scaling is None and d.get("rope_parameters") is not None:
        raise KitError(f"{_where(path, 'rope_parameters')}: expected an object, got "
                       f"{json.dumps(d['rope_parameters'])}")
    if theta is None:
        theta = 10000.0
    if scaling is None:
        return theta, None
    if not isinstance(scaling, dict):
        raise KitError(f"{_where(path, scaling_field)}: expected an object or null, got {json.dumps(scaling)}")
    kind = scaling.get("rope_type", scaling.get("type"))
    if kind in (None, "default"):
        return theta, None
    if kind != "llama3":
        raise KitError(f"{_where(path, scaling_field)}: rope type {json.dumps(kind)} is not supported "
                       f"(supported: llama3, default/none)")
    out = {"rope_type": "llama3"}
    for k in LLAMA3_KEYS:
        if k not in scaling:
            raise KitError(f"{_where(path, scaling_field)}: llama3 scaling needs '{k}'")
        v = scaling[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise KitError(f"{_where(path, scaling_field)}: '{k}' must be a positive number, got {json.dumps(v)}")
        out[k] = v
    if out["high_freq_factor"] <= out["low_freq_factor"]:
        raise KitError(f"{_where(path, scaling_field)}: high_freq_factor must exceed low_freq_factor")
    return theta, out


def parse_config(d, path="config.json"):
    """ModelConfig from a config.json dict; path names the file in errors."""
    if not isinstance(d, dict):
        raise KitError(f"{path}: not a JSON object")
    mt = d.get("model_type")
    if mt is None:
        raise KitError(f"{_where(path, 'model_type')} is required but missing")
    if mt not in FAMILIES:
        raise KitError(f"{_where(path, 'model_type')}: {json.dumps(mt)} is not supported "
                       f"(supported: {', '.join(FAMILIES)})")
    arch = d.get("architectures")
    if arch is not None and arch != [ARCHITECTURES[mt]]:
        raise KitError(f"{_where(path, 'architectures')}: {json.dumps(arch)} is not supported "
                       f"for {mt} (supported: [\"{ARCHITECTURES[mt]}\"])")
    act = d.get("hidden_act", "silu")
    if act != "silu":
        raise KitError(f"{_where(path, 'hidden_act')}: {json.dumps(act)} is not supported (supported: silu)")
    if _get_bool(d, path, "use_sliding_window", False):
        raise KitError(f"{_where(path, 'use_sliding_window')}: sliding-window attention is not supported")
    lt = d.get("layer_types")
    if lt is not None and (not isinstance(lt, list) or any(x != "full_attention" for x in lt)):
        raise KitError(f"{_where(path, 'layer_types')}: only full_attention layers are supported")
    prf = d.get("partial_rotary_factor", 1.0)
    if prf is not None and prf != 1.0:
        raise KitError(f"{_where(path, 'partial_rotary_factor')}: {json.dumps(prf)} is not supported "
                       f"(RoPE over the whole head_dim only)")
    if _get_bool(d, path, "mlp_bias", False):
        raise KitError(f"{_where(path, 'mlp_bias')}: MLP biases are not supported")
    if mt == "qwen2":
        if not _get_bool(d, path, "attention_bias", True):
            raise KitError(f"{_where(path, 'attention_bias')}: false is not supported for qwen2 "
                           f"(Qwen2Attention always has q/k/v biases)")
        bias = True
    else:
        bias = _get_bool(d, path, "attention_bias", False)
        if bias:
            raise KitError(f"{_where(path, 'attention_bias')}: true is not supported for {mt} "
                           f"(q/k/v/o biases)")

    vocab = _get_int(d, path, "vocab_size", required=True)
    hidden = _get_int(d, path, "hidden_size", required=True)
    inter = _get_int(d, path, "intermediate_size", required=True)
    layers = _get_int(d, path, "num_hidden_layers", required=True)
    heads = _get_int(d, path, "num_attention_heads", required=True)
    kv = _get_int(d, path, "num_key_value_heads", default=heads)
    if heads % kv:
        raise KitError(f"{_where(path, 'num_key_value_heads')}: {kv} does not divide "
                       f"num_attention_heads {heads}")
    if mt == "qwen3":
        hd = _get_int(d, path, "head_dim", default=128)
    else:
        hd = _get_int(d, path, "head_dim", default=None)
        if hd is None:
            if hidden % heads:
                raise KitError(f"{_where(path, 'head_dim')}: absent, and hidden_size {hidden} is not "
                               f"a multiple of num_attention_heads {heads}")
            hd = hidden // heads
    if hd % 2:
        raise KitError(f"{_where(path, 'head_dim')}: {hd} is odd (RoPE rotates pairs)")
    theta, scaling = _rope(d, path)
    tdt = d.get("torch_dtype", d.get("dtype", "float32"))
    if tdt is None:
        tdt = "float32"
    if tdt not in TORCH_DTYPES:
        field = "torch_dtype" if "torch_dtype" in d else "dtype"
        raise KitError(f"{_where(path, field)}: {json.dumps(tdt)} is not supported "
                       f"(supported: {', '.join(TORCH_DTYPES)})")
    return ModelConfig(
        model_type=mt, vocab_size=vocab, hidden_size=hidden, intermediate_size=inter,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
        head_dim=hd,
        rms_norm_eps=_get_float(d, path, "rms_norm_eps", 1e-6),
        rope_theta=theta, rope_scaling=scaling,
        max_position_embeddings=_get_int(d, path, "max_position_embeddings", default=_MAX_POS[mt]),
        tie_word_embeddings=_get_bool(d, path, "tie_word_embeddings", False),
        attention_bias=bias, torch_dtype=tdt,
        bos_token_id=_token_ids(d, path, "bos_token_id", vocab),
        eos_token_id=_token_ids(d, path, "eos_token_id", vocab),
        raw=dict(d))


def load_config(path_or_dir):
    """ModelConfig from a checkpoint directory or a config.json path.
    Raises KitError naming config.json and the field."""
    path = str(path_or_dir)
    if os.path.isdir(path):
        path = os.path.join(path, "config.json")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise KitError(f"{path}: cannot read: {e.strerror}") from None
    try:
        d = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise KitError(f"{path}: not valid UTF-8 (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise KitError(f"{path}: invalid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    return parse_config(d, path)
