"""The kit against Hugging Face on a machine that has transformers,
safetensors and tokenizers (the GPU machine; run by check.sh). On the tiny
checkpoints of tinyset.py, one per family:
  - loader: safetensors.torch.load_file == llmkit.safetensors.read_safetensors;
  - forward: transformers' AutoModelForCausalLM (eager attention, float32,
    CPU and CUDA; bfloat16 on CUDA) against llmkit.model.CausalLM on the same
    left-padded batch with the same position ids: max |logit difference|
    over real tokens; greedy generation of 8 tokens, token for token;
  - WO: the checkpoint llmkit.wo.orthogonalize saves, loaded by
    transformers, against our hook ablation on the base (outputs only, and
    with the embedding edit), last-position logits;
  - tokenizer: tokenizers.Tokenizer ids and decode on STRINGS, and
    AutoTokenizer.apply_chat_template renders, against ours; the same on the
    real tokenizer files under $TOKREFS/<name>/ when given.
Writes OUT/golden/{forward,wo,tokenizer}-<family>.json (small: last-position
logits of 6 prompts, rounded to 6 decimals) and OUT/summary.json, and
exits 1 when a comparison is beyond its tolerance. --no-hf runs our side
only (a dry run on a machine without transformers)."""
import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tinyset  # noqa: E402

import torch  # noqa: E402

from llmkit import variant as V  # noqa: E402
from llmkit import wo as W  # noqa: E402
from llmkit.chat import ChatTemplate  # noqa: E402
from llmkit.checkpoint import save_checkpoint, load_checkpoint  # noqa: E402
from llmkit.model import CausalLM  # noqa: E402
from llmkit.safetensors import read_safetensors  # noqa: E402
from llmkit.tokenizer import Tokenizer  # noqa: E402

TOL = {"fp32": 1e-4, "bf16_cuda": 0.25, "wo_untied": 1e-4}
CONVS = [[{"role": "user", "content": "How do I make bread?"}],
         [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
         [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
          {"role": "user", "content": "c\n\nd"}]]
failures = []


def note(name, value, tol=None):
    ok = tol is None or value <= tol
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {value:.3g}" + ("" if tol is None else f" (tol {tol})"))
    if not ok:
        failures.append(name)
    return value


def left_pad(seqs, pad):
    ids, mask = W.left_pad(seqs, pad)
    pos = (torch.cumsum(mask, dim=1) - 1).clamp(min=0)
    return ids, mask, pos


def hf_model(d, dtype, device):
    from transformers import AutoModelForCausalLM
    try:
        m = AutoModelForCausalLM.from_pretrained(d, dtype=dtype, attn_implementation="eager")
    except TypeError:
        m = AutoModelForCausalLM.from_pretrained(d, torch_dtype=dtype, attn_implementation="eager")
    return m.to(device).eval()


def hf_logits(m, ids, mask, pos):
    dev = next(m.parameters()).device
    with torch.no_grad():
        return m(input_ids=ids.to(dev), attention_mask=mask.to(dev),
                 position_ids=pos.to(dev)).logits.float().cpu()


def ours_logits(d, ids, mask, dtype, device, hooks=None):
    m = CausalLM.from_checkpoint(d, dtype=dtype, device=device)
    with torch.no_grad():
        return m(ids, attention_mask=mask, hooks=hooks).float().cpu(), m


def rnd(t):
    return [[round(float(x), 6) for x in row] for row in t]


def family(fam, root, out, no_hf, devices):
    d = tinyset.build(fam, os.path.join(root, fam))
    seqs, fmt, tok = tinyset.prompt_ids(d, fam)
    cfg, _ = load_checkpoint(d)
    eos = V.eos_ids(cfg, tok, d)
    pad = V.pad_id(tok, eos)
    ids, mask, pos = left_pad(seqs, pad)
    real = mask.bool()
    res = {"family": fam, "files": tinyset.files(d)}
    ours, model = ours_logits(d, ids, mask, torch.float32, "cpu")
    last = ours[:, -1]
    # WO: a direction from our own candidates (harmful-looking minus the rest)
    cands = W.candidate_directions(model, seqs[:3], seqs[3:], 1, pad)
    r = cands[0, 1]
    rhat = (r / r.norm()).to(torch.float32)
    tensors = {k: v.detach() for k, v in model.state_dict().items()}
    wo_dirs = {}
    for edit in (False, True):
        wd = os.path.join(root, f"{fam}-wo-{int(edit)}")
        save_checkpoint(wd, cfg, W.orthogonalize(cfg, tensors, rhat, edit), copy_from=d)
        wo_dirs[edit] = wd
    hook = {e: W.forward_last(model, seqs, pad, W.Intervention.ablate(rhat, e))[0].float()
            for e in (False, True)}
    gen_ours = model.generate(seqs, max_new_tokens=8, eos_ids=sorted(eos), pad_id=pad, batch_size=6)
    res["ours"] = {"generate": gen_ours}
    if no_hf:
        res["skipped"] = "no transformers (--no-hf)"
        return res, None
    import safetensors.torch
    import tokenizers
    from transformers import AutoTokenizer
    a = safetensors.torch.load_file(os.path.join(d, "model.safetensors"))
    b = read_safetensors(os.path.join(d, "model.safetensors"))
    res["loader_equal"] = sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)
    if not res["loader_equal"]:
        failures.append(f"{fam} loader")
    print(f"{'ok  ' if res['loader_equal'] else 'FAIL'} {fam} safetensors load_file == ours")
    diffs = {}
    hf_cpu = hf_logits(hf_model(d, torch.float32, "cpu"), ids, mask, pos)
    diffs["fp32_cpu"] = note(f"{fam} forward fp32 cpu max|dlogit|",
                             float((hf_cpu - ours)[real].abs().max()), TOL["fp32"])
    for dev in devices:
        if dev == "cpu":
            continue
        h = hf_logits(hf_model(d, torch.float32, dev), ids, mask, pos)
        o, _ = ours_logits(d, ids, mask, torch.float32, dev)
        diffs[f"fp32_{dev}"] = note(f"{fam} forward fp32 {dev}", float((h - o)[real].abs().max()),
                                    TOL["fp32"] * 10)
        hb = hf_logits(hf_model(d, torch.bfloat16, dev), ids, mask, pos)
        ob, _ = ours_logits(d, ids, mask, torch.bfloat16, dev)
        diffs[f"bf16_{dev}"] = note(f"{fam} forward bf16 {dev}", float((hb - ob)[real].abs().max()),
                                    TOL["bf16_cuda"])
    hfm = hf_model(d, torch.float32, "cpu")
    with torch.no_grad():
        g = hfm.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8, do_sample=False,
                         pad_token_id=pad, eos_token_id=sorted(eos))
    gen_hf = []
    for i, row in enumerate(g[:, ids.shape[1]:].tolist()):
        cut = next((j for j, x in enumerate(row) if x in eos), None)
        gen_hf.append(row if cut is None else row[:cut + 1])
    same = sum(a == b for a, b in zip(gen_hf, gen_ours))
    res["generate_equal"] = f"{same}/{len(seqs)}"
    print(f"{'ok  ' if same == len(seqs) else 'FAIL'} {fam} greedy generate equal {same}/{len(seqs)}")
    if same != len(seqs):
        failures.append(f"{fam} generate")
    tied = cfg.tie_word_embeddings
    wo_hf = {}
    for edit in (False, True):
        wo_hf[edit] = hf_logits(hf_model(wo_dirs[edit], torch.float32, "cpu"), ids, mask, pos)[:, -1]
        tol = None if (tied and edit) else TOL["wo_untied"]
        diffs[f"wo_edit{int(edit)}"] = note(
            f"{fam} WO checkpoint in transformers vs our hook ablation (edit_embeddings={edit}"
            f"{', tied head: expected to differ' if tied and edit else ''})",
            float((wo_hf[edit] - hook[edit]).abs().max()), tol)
    res["diffs"] = diffs
    # tokenizer and template
    ref = tokenizers.Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    ids_ref = [ref.encode(s, add_special_tokens=True).ids for s in tinyset.STRINGS]
    ids_ours = [tok.encode(s) for s in tinyset.STRINGS]
    bad = sum(a != b for a, b in zip(ids_ref, ids_ours))
    dec_bad = sum(ref.decode(x, skip_special_tokens=False) != tok.decode(x) for x in ids_ref)
    note(f"{fam} tokenizer ids differing strings", bad, 0)
    note(f"{fam} tokenizer decode differing", dec_bad, 0)
    at = AutoTokenizer.from_pretrained(d)
    kw = tinyset.CHAT_KWARGS[fam]
    ours_chat = ChatTemplate.from_dir(d)
    renders = [at.apply_chat_template(c, tokenize=False, add_generation_prompt=True, **kw) for c in CONVS]
    r_bad = sum(x != ours_chat.render(c, add_generation_prompt=True, **kw) for x, c in zip(renders, CONVS))
    note(f"{fam} chat template renders differing", r_bad, 0)
    golden = {
        "forward": {"family": fam, "files": res["files"], "prompts": seqs, "pad_id": pad,
                    "last_logits": rnd(hf_cpu[:, -1]), "tolerance": TOL["fp32"],
                    "generate": gen_hf},
        "wo": {"family": fam, "direction": [round(float(x), 8) for x in rhat],
               "last_logits_edit0": rnd(wo_hf[False]), "tolerance": TOL["wo_untied"]},
        "tokenizer": {"family": fam, "strings": tinyset.STRINGS, "ids": ids_ref,
                      "chat_kwargs": kw, "conversations": CONVS, "renders": renders},
    }
    return res, golden


def real_files(root):
    """$TOKREFS/<name>/tokenizer.json (+ tokenizer_config.json): ids and
    renders of the real Llama-3.1 / Qwen3 files (carried, never committed)."""
    import tokenizers
    from transformers import AutoTokenizer
    out = {}
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        if not os.path.isfile(os.path.join(d, "tokenizer.json")):
            continue
        ref = tokenizers.Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        tok = Tokenizer.from_dir(d)
        bad = sum(ref.encode(s, add_special_tokens=True).ids != tok.encode(s) for s in tinyset.STRINGS)
        at = AutoTokenizer.from_pretrained(d)
        chat = ChatTemplate.from_dir(d)
        rb = sum(at.apply_chat_template(c, tokenize=False, add_generation_prompt=True) !=
                 chat.render(c, add_generation_prompt=True) for c in CONVS)
        note(f"real {name}: tokenizer ids differing strings", bad, 0)
        note(f"real {name}: chat renders differing", rb, 0)
        out[name] = {"ids_differing": bad, "renders_differing": rb, "strings": len(tinyset.STRINGS)}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--no-hf", action="store_true")
    a = ap.parse_args()
    t0 = time.time()
    torch.manual_seed(0)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    summary = {"torch": torch.__version__, "devices": devices}
    if not a.no_hf:
        import safetensors
        import tokenizers
        import transformers
        summary.update(transformers=transformers.__version__, tokenizers=tokenizers.__version__,
                       safetensors=safetensors.__version__)
        if torch.cuda.is_available():
            summary["gpu"] = torch.cuda.get_device_name(0)
    gdir = os.path.join(a.out, "golden")
    os.makedirs(gdir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llm-check.") as root:
        for fam in tinyset.FAMILIES:
            res, golden = family(fam, root, a.out, a.no_hf, devices)
            summary[fam] = res
            if golden:
                for kind, doc in golden.items():
                    with open(os.path.join(gdir, f"{kind}-{fam}.json"), "w") as f:
                        json.dump(doc, f, separators=(",", ":"))
                        f.write("\n")
    refs = os.environ.get("TOKREFS")
    if refs and os.path.isdir(refs) and not a.no_hf:
        summary["real_tokenizers"] = real_files(refs)
    summary["failures"] = failures
    summary["seconds"] = round(time.time() - t0, 1)
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    print(f"check.py: {len(failures)} failures in {summary['seconds']}s: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
