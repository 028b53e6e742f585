"""The decoder of the llama, qwen2 and qwen3 families in plain PyTorch, its KV
cache, batched generation and the residual-stream hooks of Arditi et al.

Follows Hugging Face transformers' LlamaForCausalLM / Qwen2ForCausalLM /
Qwen3ForCausalLM (eager attention) operation by operation:
  - RMSNorm: x in float32, x * rsqrt(mean(x^2) + eps), cast back to the input
    dtype, then multiplied by the weight (HF's order);
  - RoPE in the half-split ("rotate_half") layout, inverse frequencies in
    float32, with Llama 3.1's 'llama3' frequency scaling when config.rope_scaling
    says so (rope_type/type 'llama3': factor, low_freq_factor, high_freq_factor,
    original_max_position_embeddings);
  - grouped-query attention (key/value head j serves query heads
    j*n_rep .. j*n_rep+n_rep-1), scores scaled by head_dim^-0.5, softmax in
    float32; qkv bias when config.attention_bias (qwen2); per-head q/k RMSNorm
    before RoPE (qwen3);
  - SwiGLU MLP: down(silu(gate(x)) * up(x));
  - tied (lm_head = embed_tokens) or untied head; logits returned in float32.
Parameter names are HF's state-dict names (model.layers.{i}.self_attn.q_proj.weight ...),
so CausalLM.state_dict() is a HF checkpoint's tensor dict.

Shapes: B batch, T new tokens, S cached + new tokens, D hidden, V vocabulary,
L layers, H query heads, KV key/value heads, hd head_dim.

Padding is on the LEFT: attention_mask [B, T] holds 1 for a token and 0 for a
pad. Position ids default to (number of real tokens before this one), so a
left-padded prompt gets the same positions, hence (RoPE being relative) the same
logits as the unpadded prompt. Pad keys are masked out of attention; pad
queries still produce (meaningless) logits.

Hooks (Arditi et al. 2024, "Refusal in language models is mediated by a single
direction"; the reference is andyrdt/refusal_direction's hook_utils): pass a
Hooks object to forward()/generate(hooks=...), or install it for a block with
`with model.hooks(h): ...`. Fields:
  capture_positions: list of int token indices (negative = from the end, the
      post-instruction positions of left-padded prompts, e.g. [-5..-1]) ->
      after each forward, h.captured is a float32 tensor [L+1, B, k, D]:
      h.captured[l] is the residual stream at the input of layer l (resid_pre,
      after any addition hook at that layer, before any ablation there) and
      h.captured[L] the residual stream after the last layer (before the final
      norm). Each forward call replaces h.captured.
  ablate: direction r [D] (any dtype): x <- x - (x.r_hat) r_hat with
      r_hat = r/|r| at every layer input, every attention output (after
      o_proj) and every MLP output (after down_proj), at all positions, computed
      in float32 and cast back. ablate_layers restricts it to some layers
      (default all). ablate_inputs=False skips the layer inputs: only the
      attention and MLP outputs are ablated, which equals orthogonalising
      o_proj and down_proj alone (WO that leaves the embedding unedited).
  add_layer, add_vector: activation addition x <- x + add_vector at the input
      of layer add_layer, at all positions (add_vector = c * r; the caller
      chooses the scale, Arditi et al. add the unnormalised difference of means).
Ablation at every write into the residual stream equals orthogonalising
embed_tokens, o_proj and down_proj (W <- W - r_hat r_hat^T W) for an untied
head; tests/llm/test_model.py checks that.

KV cache: forward(..., cache=model.new_cache()) appends the new keys/values
and the mask; later calls pass only the new tokens (and their mask).
generate() uses it, with logits of the last position only (last_k=1).

Errors: KitError naming the tensor for missing/unexpected/mis-shaped weights.
Works on torch 1.13 (CPU) and torch 2.x (CUDA); uses no SDPA.
"""
import math
from dataclasses import dataclass, field, replace
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .errors import KitError


class Arch:
    """The numbers the decoder needs, read once from a ModelConfig
    (llmkit.config; a config.json dict goes through parse_config first, so
    defaults such as Qwen3's head_dim are config.py's)."""

    def __init__(self, cfg):
        if isinstance(cfg, dict):
            from .config import parse_config
            cfg = parse_config(cfg, "config")
        self.model_type = cfg.model_type
        if self.model_type not in ("llama", "qwen2", "qwen3"):
            raise KitError(f"config.json: model_type '{self.model_type}' is not llama, qwen2 or qwen3")
        self.vocab_size = int(cfg.vocab_size)
        self.hidden = int(cfg.hidden_size)
        self.inter = int(cfg.intermediate_size)
        self.n_layers = int(cfg.num_hidden_layers)
        self.n_heads = int(cfg.num_attention_heads)
        self.n_kv = int(cfg.num_key_value_heads)
        self.head_dim = int(cfg.head_dim)
        self.eps = float(cfg.rms_norm_eps)
        self.rope_theta = float(cfg.rope_theta)
        self.rope_scaling = cfg.rope_scaling
        self.tie = bool(cfg.tie_word_embeddings)
        self.qkv_bias = bool(cfg.attention_bias) or self.model_type == "qwen2"
        self.qk_norm = self.model_type == "qwen3"
        if self.n_heads % self.n_kv:
            raise KitError(f"config.json: num_attention_heads {self.n_heads} is not a multiple of "
                           f"num_key_value_heads {self.n_kv}")
        self.n_rep = self.n_heads // self.n_kv


def rope_inv_freq(arch):
    """Inverse RoPE frequencies [hd/2] float32, with 'llama3' scaling applied
    (transformers' _compute_llama3_parameters). Other scaling types: KitError."""
    hd = arch.head_dim
    inv = 1.0 / (arch.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    rs = arch.rope_scaling
    if not rs:
        return inv
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "default":
        return inv
    if kind != "llama3":
        raise KitError(f"config.json: rope_scaling type '{kind}' is not supported (only llama3)")
    factor = float(rs["factor"])
    low = float(rs["low_freq_factor"])
    high = float(rs["high_freq_factor"])
    old = float(rs["original_max_position_embeddings"])
    low_wavelen = old / low
    high_wavelen = old / high
    wavelen = 2 * math.pi / inv
    scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, scaled)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x, cos, sin):
    """x [B,heads,T,hd] rotated in HF's half-split layout; cos/sin [B,1,T,hd]."""
    return x * cos + rotate_half(x) * sin


def rope_tables(position_ids, inv_freq, dtype):
    """cos, sin [B,1,T,hd] for position_ids [B,T]: angles in float32 (as HF
    computes them), cast to the model dtype."""
    freqs = position_ids.float()[:, :, None] * inv_freq.float()[None, None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype)[:, None], emb.sin().to(dtype)[:, None]


def rms_norm(x, weight, eps):
    dt = x.dtype
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return weight * xf.to(dt)


class RMSNorm(nn.Module):
    def __init__(self, n, eps, device, dtype):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n, device=device, dtype=dtype), requires_grad=False)
        self.eps = eps

    def forward(self, x):
        return rms_norm(x, self.weight, self.eps)


def _linear(i, o, bias, device, dtype):
    return nn.Linear(i, o, bias=bias, device=device, dtype=dtype)


class Attention(nn.Module):
    def __init__(self, a, device, dtype):
        super().__init__()
        self.a = a
        hd = a.head_dim
        self.q_proj = _linear(a.hidden, a.n_heads * hd, a.qkv_bias, device, dtype)
        self.k_proj = _linear(a.hidden, a.n_kv * hd, a.qkv_bias, device, dtype)
        self.v_proj = _linear(a.hidden, a.n_kv * hd, a.qkv_bias, device, dtype)
        self.o_proj = _linear(a.n_heads * hd, a.hidden, False, device, dtype)
        if a.qk_norm:
            self.q_norm = RMSNorm(hd, a.eps, device, dtype)
            self.k_norm = RMSNorm(hd, a.eps, device, dtype)

    def forward(self, x, cos, sin, bias, cache, layer):
        a = self.a
        B, T, _ = x.shape
        hd = a.head_dim
        q = self.q_proj(x).view(B, T, a.n_heads, hd)
        k = self.k_proj(x).view(B, T, a.n_kv, hd)
        v = self.v_proj(x).view(B, T, a.n_kv, hd).transpose(1, 2)
        if a.qk_norm:
            q = self.q_norm(q)
            k = self.k_norm(k)
        q = q.transpose(1, 2)
        k = k.transpose(1, 2)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.append(layer, k, v)
        if a.n_rep > 1:
            S = k.shape[2]
            k = k[:, :, None].expand(B, a.n_kv, a.n_rep, S, hd).reshape(B, a.n_heads, S, hd)
            v = v[:, :, None].expand(B, a.n_kv, a.n_rep, S, hd).reshape(B, a.n_heads, S, hd)
        scores = torch.matmul(q, k.transpose(2, 3)) * (hd ** -0.5)
        probs = torch.softmax(scores.float() + bias, dim=-1).to(q.dtype)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(B, T, a.n_heads * hd)
        return self.o_proj(out)


class MLP(nn.Module):
    def __init__(self, a, device, dtype):
        super().__init__()
        self.gate_proj = _linear(a.hidden, a.inter, False, device, dtype)
        self.up_proj = _linear(a.hidden, a.inter, False, device, dtype)
        self.down_proj = _linear(a.inter, a.hidden, False, device, dtype)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, a, device, dtype):
        super().__init__()
        self.self_attn = Attention(a, device, dtype)
        self.mlp = MLP(a, device, dtype)
        self.input_layernorm = RMSNorm(a.hidden, a.eps, device, dtype)
        self.post_attention_layernorm = RMSNorm(a.hidden, a.eps, device, dtype)


class Decoder(nn.Module):
    def __init__(self, a, device, dtype):
        super().__init__()
        self.embed_tokens = nn.Embedding(a.vocab_size, a.hidden, device=device, dtype=dtype)
        self.layers = nn.ModuleList([DecoderLayer(a, device, dtype) for _ in range(a.n_layers)])
        self.norm = RMSNorm(a.hidden, a.eps, device, dtype)


class KVCache:
    """Per-layer keys and values [B, KV, S, hd] (after RoPE), the attention mask
    of the cached positions [B, S] and each row's count of real tokens (the next
    position id). Buffers grow in chunks so decoding does not copy every step."""

    def __init__(self, n_layers, chunk=256):
        self.k = [None] * n_layers
        self.v = [None] * n_layers
        self.length = 0
        self.mask = None  # [B, S] long
        self.next_pos = None  # [B] long
        self.chunk = chunk

    def append(self, layer, k, v):
        T = k.shape[2]
        S = self.length + T
        buf = self.k[layer]
        if buf is None or buf.shape[2] < S:
            cap = S + self.chunk
            nk = k.new_empty(k.shape[0], k.shape[1], cap, k.shape[3])
            nv = v.new_empty(v.shape[0], v.shape[1], cap, v.shape[3])
            if buf is not None:
                nk[:, :, :self.length] = buf[:, :, :self.length]
                nv[:, :, :self.length] = self.v[layer][:, :, :self.length]
            self.k[layer], self.v[layer] = nk, nv
        self.k[layer][:, :, self.length:S] = k
        self.v[layer][:, :, self.length:S] = v
        return self.k[layer][:, :, :S], self.v[layer][:, :, :S]


@dataclass
class Hooks:
    """Interventions and captures for one forward/generate (see the module doc)."""
    capture_positions: Optional[List[int]] = None
    ablate: Optional[torch.Tensor] = None
    ablate_layers: Optional[List[int]] = None
    ablate_inputs: bool = True
    add_layer: Optional[int] = None
    add_vector: Optional[torch.Tensor] = None
    captured: Optional[torch.Tensor] = field(default=None, repr=False)


def _ablate(x, rhat):
    xf = x.float()
    return (xf - (xf @ rhat).unsqueeze(-1) * rhat).to(x.dtype)


class _HookCtx:
    def __init__(self, model, hooks):
        self.model, self.hooks, self.prev = model, hooks, None

    def __enter__(self):
        self.prev = self.model._hooks
        self.model._hooks = self.hooks
        return self.hooks

    def __exit__(self, *exc):
        self.model._hooks = self.prev
        return False


class CausalLM(nn.Module):
    """CausalLM(cfg, dtype=torch.float32, device='cpu'): parameters are allocated
    on the 'meta' device and come from load_tensors (or from_checkpoint), which
    casts them to dtype and moves them to device. Afterwards model.to(...) works
    as usual: forward runs on the device and in the dtype of the weights."""

    def __init__(self, cfg, dtype=torch.float32, device="cpu"):
        super().__init__()
        self.cfg = cfg
        self.arch = Arch(cfg)
        self.dtype_ = dtype
        self.device_ = torch.device(device)
        a = self.arch
        self.model = Decoder(a, "meta", dtype)
        if not a.tie:
            self.lm_head = _linear(a.hidden, a.vocab_size, False, "meta", dtype)
        # float32 on the CPU, a plain attribute (not a buffer) so that
        # model.to(bfloat16) cannot round it; moved to the device per forward
        self.inv_freq = rope_inv_freq(a)
        self._hooks = None

    # ---- weights -------------------------------------------------------
    def expected_shapes(self):
        """{HF tensor name: shape} of this configuration."""
        return {n: tuple(p.shape) for n, p in self.named_parameters()}

    def load_tensors(self, tensors, strict=True):
        """Takes HF-named tensors (dict name -> Tensor), casts them to the model's
        dtype/device (no copy when they already match) and installs them.
        KitError names a missing, unexpected or mis-shaped tensor."""
        want = self.expected_shapes()
        for name, shape in want.items():
            if name not in tensors:
                raise KitError(f"tensor {name}: missing (expected shape {list(shape)})")
            got = tuple(tensors[name].shape)
            if got != shape:
                raise KitError(f"tensor {name}: shape {list(got)}, expected {list(shape)}")
        if strict:
            for name in tensors:
                if name not in want and not (self.arch.tie and name == "lm_head.weight"):
                    raise KitError(f"tensor {name}: unexpected for {self.arch.model_type} "
                                   f"(tie_word_embeddings={self.arch.tie})")
        for name in want:
            mod_name, _, pname = name.rpartition(".")
            mod = self.get_submodule(mod_name)
            t = tensors[name].to(device=self.device_, dtype=self.dtype_)
            setattr(mod, pname, nn.Parameter(t, requires_grad=False))
        return self

    def head_weight(self):
        return self.model.embed_tokens.weight if self.arch.tie else self.lm_head.weight

    @classmethod
    def from_checkpoint(cls, path, dtype=None, device="cpu"):
        """Loads a checkpoint directory (llmkit.checkpoint.load_checkpoint);
        dtype None keeps the checkpoint's torch_dtype."""
        from .checkpoint import load_checkpoint
        cfg, tensors = load_checkpoint(path, dtype=dtype)
        if dtype is None:
            dts = {t.dtype for t in tensors.values()}
            dtype = dts.pop() if len(dts) == 1 else torch.float32
        return cls(cfg, dtype=dtype, device=device).load_tensors(tensors)

    # ---- hooks ---------------------------------------------------------
    def hooks(self, h):
        """Context manager installing Hooks h for every forward in the block."""
        return _HookCtx(self, h)

    # ---- forward -------------------------------------------------------
    def forward(self, input_ids, attention_mask=None, cache=None, position_ids=None, hooks=None,
                last_k=None):
        """input_ids [B,T] long; attention_mask [B,T] for these T tokens (1 token,
        0 pad, padding on the left; None = all tokens); cache: a KVCache holding
        earlier tokens (updated in place) or None; position_ids [B,T] (default:
        count of real tokens before each one); hooks: Hooks (default: the ones
        installed by `with model.hooks(...)`). Returns logits [B,T,V] float32,
        or [B,last_k,V] for the last last_k positions only (saves the head's
        matmul and memory: a 600-token batch of 32 with V=151936 is 11 GB)."""
        a = self.arch
        h = hooks if hooks is not None else self._hooks
        w = self.model.embed_tokens.weight
        dev, dt = w.device, w.dtype
        input_ids = input_ids.to(dev)
        B, T = input_ids.shape
        mask = (torch.ones(B, T, dtype=torch.long, device=dev) if attention_mask is None
                else attention_mask.to(device=dev, dtype=torch.long))
        past = 0
        if cache is not None and cache.length:
            past = cache.length
            full_mask = torch.cat([cache.mask, mask], dim=1)
            start = cache.next_pos
        else:
            full_mask = mask
            start = torch.zeros(B, dtype=torch.long, device=dev)
        if position_ids is None:
            position_ids = start[:, None] + (torch.cumsum(mask, dim=1) - 1).clamp(min=0)
        position_ids = position_ids.to(dev)
        # additive bias [B,1,T,S]: causal within the new tokens, pads masked
        S = past + T
        qpos = torch.arange(past, S, device=dev)[:, None]
        kpos = torch.arange(S, device=dev)[None, :]
        allowed = (kpos <= qpos)[None, :, :] & (full_mask[:, None, :] > 0)
        bias = torch.zeros(B, 1, T, S, dtype=torch.float32, device=dev)
        bias.masked_fill_(~allowed[:, None], torch.finfo(torch.float32).min)
        # RoPE tables
        cos, sin = rope_tables(position_ids, self.inv_freq.to(dev), dt)

        rhat = None
        if h is not None and h.ablate is not None:
            r = h.ablate.to(device=dev, dtype=torch.float32)
            rhat = r / (r.norm() + 1e-8)
        abl_layers = None
        if rhat is not None:
            abl_layers = set(range(a.n_layers)) if h.ablate_layers is None else set(h.ablate_layers)
        capture = h is not None and h.capture_positions is not None
        caps = []

        x = self.model.embed_tokens(input_ids)
        for i, layer in enumerate(self.model.layers):
            if h is not None and h.add_layer == i and h.add_vector is not None:
                x = x + h.add_vector.to(device=dev, dtype=x.dtype)
            if capture:
                caps.append(x[:, h.capture_positions].float())
            abl = rhat is not None and i in abl_layers
            if abl and h.ablate_inputs:
                x = _ablate(x, rhat)
            att = layer.self_attn(layer.input_layernorm(x), cos, sin, bias, cache, i)
            if abl:
                att = _ablate(att, rhat)
            x = x + att
            mlp = layer.mlp(layer.post_attention_layernorm(x))
            if abl:
                mlp = _ablate(mlp, rhat)
            x = x + mlp
        if capture:
            caps.append(x[:, h.capture_positions].float())
            h.captured = torch.stack(caps)
        if cache is not None:
            cache.length = S
            cache.mask = full_mask
            cache.next_pos = start + mask.sum(dim=1)
        if last_k is not None:
            x = x[:, -last_k:]
        x = self.model.norm(x)
        return F.linear(x, self.head_weight()).float()

    def new_cache(self):
        return KVCache(self.arch.n_layers)

    # ---- generation ----------------------------------------------------
    @torch.no_grad()
    def generate(self, prompts, max_new_tokens, eos_ids, pad_id, do_sample=False,
                 temperature=1.0, top_p=1.0, seed=None, batch_size=8, hooks=None):
        """Completes every prompt (list of token-id lists), batch_size at a time,
        left-padded with pad_id. Greedy unless do_sample (then temperature, then
        nucleus top_p, drawn with a torch.Generator seeded with seed on the CPU,
        so a seed gives the same draws on any device). A row stops after it
        emits any id in eos_ids (that id is included in its output, as HF does)
        or after max_new_tokens. hooks (or the installed ones): interventions
        act at every step, on prompt and generated tokens alike; a capture
        records only the prompt forward of the last batch (capture with
        forward() instead). Returns the new tokens of each prompt, in the
        prompts' order (list of lists, len == len(prompts))."""
        if isinstance(eos_ids, int):
            eos_ids = [eos_ids]
        eos = torch.tensor(sorted(set(eos_ids or [])), dtype=torch.long)
        if hooks is None:
            hooks = self._hooks
        gen = None
        if do_sample:
            gen = torch.Generator(device="cpu")
            gen.manual_seed(0 if seed is None else int(seed))
        out = []
        bs = max(1, int(batch_size))
        for b0 in range(0, len(prompts), bs):
            batch = prompts[b0:b0 + bs]
            out.extend(self._generate_batch(batch, max_new_tokens, eos, pad_id, do_sample,
                                            temperature, top_p, gen, hooks))
        assert len(out) == len(prompts)
        return out

    def _generate_batch(self, batch, max_new, eos, pad_id, do_sample, temperature, top_p, gen, hooks):
        dev = self.model.embed_tokens.weight.device
        if any(len(p) == 0 for p in batch):
            raise KitError("generate: an empty prompt (no tokens)")
        T = max(len(p) for p in batch)
        ids = torch.full((len(batch), T), int(pad_id), dtype=torch.long)
        mask = torch.zeros(len(batch), T, dtype=torch.long)
        for r, p in enumerate(batch):
            ids[r, T - len(p):] = torch.tensor(p, dtype=torch.long)
            mask[r, T - len(p):] = 1
        cache = self.new_cache()
        res = [[] for _ in batch]
        done = torch.zeros(len(batch), dtype=torch.bool)
        logits = self.forward(ids.to(dev), mask.to(dev), cache=cache, hooks=hooks, last_k=1)[:, -1]
        # decode steps: the same interventions, no capture (that is the prompt's)
        step_hooks = hooks if hooks is None else replace(hooks, capture_positions=None)
        for step in range(max_new):
            nxt = self._pick(logits, do_sample, temperature, top_p, gen)
            for r in range(len(batch)):
                if not done[r]:
                    res[r].append(int(nxt[r]))
            if len(eos):
                done |= torch.isin(nxt, eos)
            if bool(done.all()) or step == max_new - 1:
                break
            inp = torch.where(done, torch.full_like(nxt, int(pad_id)), nxt)[:, None]
            logits = self.forward(inp.to(dev), torch.ones_like(inp).to(dev), cache=cache,
                                  hooks=step_hooks, last_k=1)[:, -1]
        return res

    @staticmethod
    def _pick(logits, do_sample, temperature, top_p, gen):
        """Next token per row [B] (CPU long) from last-position logits [B,V]."""
        logits = logits.float().cpu()
        if not do_sample:
            return logits.argmax(dim=-1)
        if temperature <= 0:
            raise KitError(f"generate: temperature {temperature} must be > 0 when sampling")
        probs = torch.softmax(logits / temperature, dim=-1)
        if top_p < 1.0:
            sp, si = torch.sort(probs, dim=-1, descending=True)
            before = torch.cumsum(sp, dim=-1) - sp  # mass strictly above each token
            sp = sp.masked_fill(before >= top_p, 0.0)  # HF's rule; the top token always stays
            probs = torch.zeros_like(probs).scatter_(1, si, sp)
        return torch.multinomial(probs, 1, generator=gen)[:, 0]
