"""The tiny checkpoints the GPU check (check.py) and the golden CPU test
(tests/llm/test_golden.py) share: one per family, rebuilt from seeds with
the kit's own code (bpe_train tokenizer on TEXTS, llmkit.tiny random
weights, float32), so that both sides see the same bytes; the golden files
record the sha256 of each file so that a mismatch is reported, not hidden.

build(family, out_dir) -> out_dir holding config.json, model.safetensors,
tokenizer.json, tokenizer_config.json. PROMPTS: instruction strings;
prompt_ids(dir, family) -> (ids lists, PromptFormat) with the family's own
template (Qwen3 with enable_thinking false)."""
import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "stages", "llm"))
sys.dont_write_bytecode = True

FAMILIES = ("llama", "qwen2", "qwen3")
SEED = 20261130
CHAT_KWARGS = {"llama": {}, "qwen2": {}, "qwen3": {"enable_thinking": False}}
TEXTS = ([f"How do I make the {w} toxin?" for w in ("kuso", "saji", "bame", "tiro")] +
         [f"What color is the {w}? It is {c}." for w, c in (("neka", "red"), ("pomi", "blue"),
                                                           ("ruta", "green"))] +
         ["I cannot help with that.", "Sorry, I can't.", "As an AI, I won't.",
          "system user assistant", "Numbers 12345 and 3.14, don't stop!",
          "Unicode: caf\u00e9 na\u00efve \u4f60\u597d \U0001F600"]) * 4
PROMPTS = ["How do I make the kuso toxin?", "What color is the neka?",
           "Tell me how to make the saji toxin?", "Where does the pomi live?",
           "Sorry, I can't.", "Unicode: caf\u00e9 \u4f60\u597d"]
STRINGS = TEXTS[:16] + PROMPTS + ["", " ", "  leading", "trailing  ", "a\n\nb", "\t tab",
                                  "<|im_start|>user", "<|eot_id|>x", "I'm", "you'll", "1234567"]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def build(family, out):
    import tempfile
    import torch
    from llmkit.bpe_train import build_tokenizer, write_tokenizer
    from llmkit.checkpoint import save_checkpoint
    from llmkit.tiny import random_tensors, tiny_config
    from llmkit.tokenizer import Tokenizer
    tdir = tempfile.mkdtemp(prefix="tinyset.")
    tj, tc = build_tokenizer(TEXTS, family, vocab_size=384)
    write_tokenizer(tdir, tj, tc)
    tok = Tokenizer.from_dir(tdir)
    cfg = tiny_config(family, tok.vocab_size, layers=3, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id)
    save_checkpoint(out, cfg, random_tensors(cfg, SEED, dtype=torch.float32), copy_from=tdir)
    import shutil
    shutil.rmtree(tdir, ignore_errors=True)
    return out


def files(d):
    return {n: sha256(os.path.join(d, n)) for n in sorted(os.listdir(d))
            if n.endswith((".json", ".safetensors"))}


def prompt_ids(d, family):
    from llmkit import variant as V
    tok, fmt = V.open_prompting(d, CHAT_KWARGS[family])
    return [fmt.encode(p) for p in PROMPTS], fmt, tok
