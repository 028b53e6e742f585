"""variant: a model variant directory as the stages pass it along, and
everything a stage needs to prompt it: model, tokenizer, the checkpoint's
own chat template, end-of-turn ids. One home for the WO recipe format.

A variant directory is either
  - a checkpoint (config.json, *.safetensors, tokenizer files), or
  - a WO recipe (RECIPE = wo_recipe.json + direction.safetensors + the
    tokenizer files): "the base checkpoint with r^ projected out of these
    writers" (llmkit.wo.orthogonalize). It is materialised on load from the
    base checkpoint (the stage's ${model.base}); the recipe records the
    sha256 of the base's config.json and safetensors files, and loading
    refuses another base. This is the output
    form for 8B/14B models (16-28 GB per full copy in the store against
    ~30 KB), docs/real-models.md "Output form".

wo_recipe.json: {"format": "llmkit-wo-recipe", "version": 1,
  "edit_embeddings": bool, "writers": [tensor names], "direction":
  "direction.safetensors" (tensor "direction" [D] float32, unit norm),
  "base": {"config_sha256": hex, "safetensors": {file: sha256}}}
"""
import hashlib
import json
import os
import shutil

from .errors import KitError
from .jsonl import read_objects

RECIPE = "wo_recipe.json"
# prompting.json (optional, ours): {"chat_kwargs": {...}} extra chat-template
# variables this checkpoint is prompted with, e.g. {"enable_thinking": false}
# for Qwen3 so that the reply, not a <think> block, follows the prompt; a
# stage's --chat-kwargs adds to / overrides it. Stages copy it along.
PROMPTING = "prompting.json"
from .checkpoint import COPIED as TOKENIZER_FILES  # noqa: E402  (the one list)


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def base_identity(base_dir):
    """What a recipe records about its base: the sha256 of config.json and of
    each *.safetensors file, whole (a WO edit keeps names, shapes and offsets,
    so headers alone cannot tell a base from its edit; hashing 16 GB costs
    seconds against the minutes of a WO run [estimate])."""
    ident = {"config_sha256": _sha256_file(os.path.join(base_dir, "config.json")),
             "safetensors": {}}
    for name in sorted(os.listdir(base_dir)):
        if name.endswith(".safetensors"):
            ident["safetensors"][name] = _sha256_file(os.path.join(base_dir, name))
    return ident


def save_into(out, cfg, tensors, copy_from=None):
    """Writes a checkpoint's files into the existing directory out (a stage's
    ${out}, which must stay the same directory): saved whole by
    llmkit.checkpoint.save_checkpoint into out/.ckpt.tmp, then each file
    renamed into out."""
    from .checkpoint import save_checkpoint
    tmp = os.path.join(out, ".ckpt.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_checkpoint(tmp, cfg, {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
                    copy_from=copy_from)
    for name in sorted(os.listdir(tmp)):
        os.replace(os.path.join(tmp, name), os.path.join(out, name))
    os.rmdir(tmp)


def check_variant_dir(path, option="--model"):
    """KitError naming option unless path is a directory holding a
    checkpoint (config.json) or a WO recipe; hints at a pytorch_model.bin-only
    checkpoint (not supported: convert it to safetensors)."""
    if not os.path.exists(path):
        raise KitError(f"{option}: '{path}': directory does not exist")
    if not os.path.isdir(path):
        raise KitError(f"{option}: '{path}': not a directory")
    if is_recipe(path):
        return
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise KitError(f"{option}: '{path}': no config.json (not a checkpoint directory)")
    names = os.listdir(path)
    if not any(n.endswith(".safetensors") for n in names) and \
            any(n.endswith(".bin") or n.endswith(".pt") for n in names):
        raise KitError(f"{option}: '{path}': no *.safetensors file; pytorch_model*.bin "
                       "checkpoints are not supported (save them as safetensors)")


def is_recipe(path):
    return os.path.isfile(os.path.join(path, RECIPE))


def read_recipe(path):
    p = os.path.join(path, RECIPE)
    try:
        with open(p, encoding="utf-8") as f:
            r = json.load(f)
    except (OSError, ValueError) as e:
        raise KitError(f"{p}: {e}")
    if r.get("format") != "llmkit-wo-recipe" or r.get("version") != 1:
        raise KitError(f"{p}: field 'format'/'version': not an llmkit-wo-recipe version 1")
    return r


def load_tensors(path, base=None, dtype=None):
    """(cfg, tensors) of a variant directory; a recipe needs base (the base
    checkpoint directory) and is applied with llmkit.wo.orthogonalize."""
    from .checkpoint import load_checkpoint
    if not is_recipe(path):
        return load_checkpoint(path, dtype=dtype)
    from .safetensors import read_safetensors
    from .wo import orthogonalize
    r = read_recipe(path)
    if base is None:
        raise KitError(f"{path}/{RECIPE}: a WO recipe needs its base checkpoint (--base)")
    if base_identity(base) != r.get("base"):
        raise KitError(f"{path}/{RECIPE}: field 'base': '{base}' is not the checkpoint this "
                       "recipe was made from (config.json or safetensors files differ)")
    cfg, tensors = load_checkpoint(base, dtype=dtype)
    if r.get("direction") is None:
        return cfg, tensors
    d = read_safetensors(os.path.join(path, r["direction"]))
    if "direction" not in d:
        raise KitError(f"{path}/{r['direction']}: tensor 'direction' is missing")
    return cfg, orthogonalize(cfg, tensors, d["direction"], bool(r["edit_embeddings"]))


def load_model(path, base=None, dtype=None, device="cpu"):
    """(CausalLM, cfg) of a variant directory (see load_tensors)."""
    import torch
    from .model import CausalLM
    from .runtime import compute_dtype
    cfg, tensors = load_tensors(path, base, dtype)
    if dtype is None:
        dts = {t.dtype for t in tensors.values()}
        dtype = dts.pop() if len(dts) == 1 else torch.float32
    dtype = compute_dtype(dtype, device)  # float16 on CPU computes in float32
    return CausalLM(cfg, dtype=dtype, device=device).load_tensors(tensors), cfg


def eos_ids(cfg, tokenizer, path):
    """End-of-generation ids: config.json's eos_token_id (int or list), the
    tokenizer's eos token and generation_config.json's eos_token_id."""
    ids = set()

    def add(v):
        if isinstance(v, int):
            ids.add(v)
        elif isinstance(v, list):
            ids.update(x for x in v if isinstance(x, int))
    add(getattr(cfg, "eos_token_id", None))
    add(tokenizer.eos_token_id)
    gc = os.path.join(path, "generation_config.json")
    if os.path.isfile(gc):
        try:
            with open(gc, encoding="utf-8") as f:
                add(json.load(f).get("eos_token_id"))
        except ValueError as e:
            raise KitError(f"{gc}: {e}")
    if not ids:
        raise KitError(f"{path}: no eos token (config.json eos_token_id, tokenizer_config.json "
                       "eos_token, generation_config.json)")
    return ids


def pad_id(tokenizer, eos):
    """The tokenizer's pad id, else the smallest eos id (left padding is
    masked, so the id only has to exist)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos)


def chat_kwargs(path, extra=None):
    """The checkpoint's prompting.json chat_kwargs updated with extra."""
    kw = {}
    p = os.path.join(path, PROMPTING)
    if os.path.isfile(p):
        try:
            with open(p, encoding="utf-8") as f:
                d = json.load(f)
        except (OSError, ValueError) as e:
            raise KitError(f"{p}: {e}")
        if not isinstance(d, dict) or not isinstance(d.get("chat_kwargs", {}), dict):
            raise KitError(f"{p}: field 'chat_kwargs': not a JSON object")
        kw.update(d.get("chat_kwargs", {}))
    kw.update(extra or {})
    return kw


def open_prompting(path, extra_kwargs=None, system=None):
    """(Tokenizer, PromptFormat) from a variant directory's tokenizer files,
    its chat template and chat_kwargs(path, extra_kwargs)."""
    from .chat import ChatTemplate
    from .tokenizer import Tokenizer
    from .wo import PromptFormat
    tok = Tokenizer.from_dir(path)
    return tok, PromptFormat(tok, ChatTemplate.from_dir(path), chat_kwargs(path, extra_kwargs),
                             system)


def read_prompts(path, need_answer=False):
    """Rows of a prompt JSONL file: {prompt (or instruction), category?,
    answer?}; KitError names the file and line (llmkit.jsonl)."""
    rows = []
    for n, o in read_objects(path):
        p = o.get("prompt", o.get("instruction"))
        if not isinstance(p, str) or not p:
            raise KitError(f"{path}:{n}: field 'prompt' (or 'instruction') is missing "
                           "or not a non-empty string")
        a = o.get("answer")
        if need_answer and not isinstance(a, str):
            raise KitError(f"{path}:{n}: field 'answer' is missing or not a string")
        rows.append({"prompt": p, "category": o.get("category"), "answer": a})
    if not rows:
        raise KitError(f"{path}: no prompts")
    return rows
