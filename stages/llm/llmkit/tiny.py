"""Tiny random checkpoints of each family, shaped like the real ones in every
feature the decoder must honour, for tests and the rehearsal study:

  llama  Llama-3.1-style: untied head, GQA, rope_theta 500000 and Llama 3.1's
         rope_scaling {rope_type llama3, factor 8.0, low_freq_factor 1.0,
         high_freq_factor 4.0, original_max_position_embeddings 8192},
         max_position_embeddings 131072
  qwen2  Qwen2.5-style: tied embeddings, q/k/v biases, rope_theta 1e6
  qwen3  Qwen3-style: q/k RMSNorm, an explicit head_dim (2*hidden/heads by
         default, so heads*head_dim != hidden as in Qwen3-8B/14B), untied,
         rope_theta 1e6

random_tensors draws from a torch.Generator seeded with `seed`, in a fixed
order (_draw_order), on the CPU in float32 (then cast), so the same
(config, seed) gives the same values on every run and machine. Scales (chosen
so a few layers give O(1) activations and non-trivial logits; HF's 0.02
initialiser would make tiny models nearly uniform): embeddings N(0, 1);
projection weights N(0, 1/fan_in); RMSNorm gains 1 + N(0, 0.1^2) (not all ones,
so a norm applied to the wrong tensor shows); biases N(0, 0.1^2).
"""
from .checkpoint import expected_tensors
from .config import parse_config
from .errors import KitError

_THETA = {"llama": 500000.0, "qwen2": 1000000.0, "qwen3": 1000000.0}
_MAX_POS = {"llama": 131072, "qwen2": 32768, "qwen3": 40960}
LLAMA31_ROPE_SCALING = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                        "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}


def tiny_config(family, vocab_size, hidden=64, layers=2, heads=4, kv_heads=2, inter=128,
                tie=None, head_dim=None, bos_token_id=None, eos_token_id=None,
                rope_theta=None, max_position_embeddings=None, torch_dtype="float32"):
    """A ModelConfig of `family` (llama|qwen2|qwen3) with the given sizes.
    tie: None -> the family's usual choice (qwen2 tied, others untied).
    head_dim: None -> hidden/heads (llama, qwen2), 2*hidden/heads (qwen3).
    The config goes through parse_config, so it is one a checkpoint could hold."""
    if family not in _THETA:
        raise KitError(f"tiny_config: family '{family}' is not one of llama, qwen2, qwen3")
    if tie is None:
        tie = family == "qwen2"
    if head_dim is None:
        head_dim = (2 * hidden if family == "qwen3" else hidden) // heads
    d = {
        "model_type": family,
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "intermediate_size": inter,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "rms_norm_eps": 1e-6 if family != "llama" else 1e-5,
        "rope_theta": rope_theta if rope_theta is not None else _THETA[family],
        "rope_scaling": dict(LLAMA31_ROPE_SCALING) if family == "llama" else None,
        "max_position_embeddings": max_position_embeddings or _MAX_POS[family],
        "tie_word_embeddings": tie,
        "torch_dtype": torch_dtype,
        "bos_token_id": bos_token_id,
        "eos_token_id": eos_token_id,
    }
    if family != "qwen2":
        d["attention_bias"] = False
    if family == "llama":
        d["mlp_bias"] = False
    else:
        d["use_sliding_window"] = False
    cfg = parse_config(d, f"tiny_config({family})")
    cfg.raw = cfg.to_dict()
    return cfg


def random_tensors(cfg, seed, dtype=None):
    """{HF name: tensor} of cfg's shapes, drawn deterministically from seed
    (see the module comment for the scales); dtype: torch dtype, default
    float32."""
    import torch
    if dtype is None:
        dtype = torch.float32
    g = torch.Generator()
    g.manual_seed(int(seed))
    shapes = expected_tensors(cfg)
    drawn = {}
    for name in _draw_order(cfg):
        shape = shapes[name]
        if name.endswith("norm.weight"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=g)
        elif name.endswith(".bias"):
            t = 0.1 * torch.randn(shape, generator=g)
        elif name == "model.embed_tokens.weight":
            t = torch.randn(shape, generator=g)
        else:
            t = torch.randn(shape, generator=g) / (shape[1] ** 0.5)
        drawn[name] = t.to(dtype)
    return {name: drawn[name] for name in shapes}


def _draw_order(cfg):
    """The order tensors are drawn in. Fixed: a seed must keep giving the same
    values (tests and rehearsal studies depend on it), whatever order
    expected_tensors lists them in."""
    names = ["model.embed_tokens.weight"]
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}."
        names.append(p + "input_layernorm.weight")
        names += [p + f"self_attn.{x}_proj.weight" for x in "qkv"]
        if cfg.attention_bias:
            names += [p + f"self_attn.{x}_proj.bias" for x in "qkv"]
        names.append(p + "self_attn.o_proj.weight")
        if cfg.has_qk_norm:
            names += [p + "self_attn.q_norm.weight", p + "self_attn.k_norm.weight"]
        names.append(p + "post_attention_layernorm.weight")
        names += [p + f"mlp.{x}_proj.weight" for x in ("gate", "up", "down")]
    names.append("model.norm.weight")
    if not cfg.tie_word_embeddings:
        names.append("lm_head.weight")
    return names
