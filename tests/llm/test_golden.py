"""The kit against the golden files that tests/llm/device/check.sh wrote on
the GPU machine with Hugging Face transformers / tokenizers
(tests/llm/golden/{forward,wo,tokenizer}-<family>.json): rebuilds the same
tiny checkpoints (tests/llm/device/tinyset.py; their sha256 must match the
golden's), then compares our last-position logits (tolerance in the file),
greedy generation, the WO checkpoint's logits, tokenizer ids and chat
renders. SKIPs when no golden file is committed yet."""
import glob
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "device"))
sys.path.insert(0, HERE)
import tinyset  # noqa: E402

import torch  # noqa: E402
from tap import Tap  # noqa: E402

from llmkit import variant as V  # noqa: E402
from llmkit import wo as W  # noqa: E402
from llmkit.chat import ChatTemplate  # noqa: E402
from llmkit.checkpoint import load_checkpoint  # noqa: E402
from llmkit.model import CausalLM  # noqa: E402
from llmkit.tokenizer import Tokenizer  # noqa: E402

torch.set_num_threads(1)
t = Tap()
gdir = os.path.join(HERE, "golden")
found = sorted(glob.glob(os.path.join(gdir, "forward-*.json")))
if not found:
    t.skip("transformers goldens", "no tests/llm/golden/forward-*.json yet: run "
           "tests/llm/device/check.sh on the GPU machine and commit its $OUT/golden")
    sys.exit(t.done())
with tempfile.TemporaryDirectory(prefix="t0403.") as root:
    for path in found:
        g = json.load(open(path))
        fam = g["family"]
        d = tinyset.build(fam, os.path.join(root, fam))
        files = tinyset.files(d)
        if not t.ok(files == g["files"], f"{fam}: the rebuilt tiny checkpoint is the golden's, byte for byte",
                    f"ours {files}\ngolden {g['files']}"):
            continue
        model = CausalLM.from_checkpoint(d, dtype=torch.float32)
        seqs = g["prompts"]
        last, _ = W.forward_last(model, seqs, g["pad_id"])
        diff = float((last.float() - torch.tensor(g["last_logits"])).abs().max())
        t.ok(diff <= g["tolerance"], f"{fam}: logits match transformers ({diff:.2e})", diff)
        tok = Tokenizer.from_dir(d)
        cfg, tensors = load_checkpoint(d)
        gen = model.generate(seqs, max_new_tokens=8, eos_ids=sorted(V.eos_ids(cfg, tok, d)),
                             pad_id=g["pad_id"], batch_size=6)
        t.ok(gen == g["generate"], f"{fam}: greedy generation matches transformers",
             f"ours {gen}\nhf {g['generate']}")
        wp = os.path.join(gdir, f"wo-{fam}.json")
        if os.path.isfile(wp):
            gw = json.load(open(wp))
            rhat = torch.tensor(gw["direction"], dtype=torch.float32)
            edited = CausalLM(cfg).load_tensors(W.orthogonalize(cfg, tensors, rhat, False))
            lw, _ = W.forward_last(edited, seqs, g["pad_id"])
            dw = float((lw.float() - torch.tensor(gw["last_logits_edit0"])).abs().max())
            t.ok(dw <= gw["tolerance"], f"{fam}: the WO checkpoint's logits match transformers ({dw:.2e})", dw)
        tp = os.path.join(gdir, f"tokenizer-{fam}.json")
        if os.path.isfile(tp):
            gt = json.load(open(tp))
            bad = [s for s, ids in zip(gt["strings"], gt["ids"]) if tok.encode(s) != ids]
            t.ok(not bad, f"{fam}: token ids match tokenizers on {len(gt['strings'])} strings", bad[:5])
            chat = ChatTemplate.from_dir(d)
            rb = [c for c, r in zip(gt["conversations"], gt["renders"])
                  if chat.render(c, add_generation_prompt=True, **gt["chat_kwargs"]) != r]
            t.ok(not rb, f"{fam}: chat renders match apply_chat_template", rb[:2])
sys.exit(t.done())
