"""tokenizer.py details the real files do not exercise: the added-token flags
lstrip / rstrip / normalized on trained files edited to carry them (compared
with @huggingface/tokenizers; SKIP when npm-refs.sh exits 3), single_word and
the whitespace lstrip/rstrip remove (the Rust crate's meaning, written out
here: tokenizers.js ignores single_word and trims ECMAScript whitespace),
decode of unknown ids, and the errors for bad files (file and field named)."""
import json
import os
import random
import sys
import tempfile

import tokref
from tap import Tap
from tok_cases import SPACES, WORDS, instructions

from llmkit.bpe_train import build_tokenizer, write_tokenizer
from llmkit.errors import KitError
from llmkit.tokenizer import Tokenizer


def flagged(family):
    """A trained tokenizer whose added tokens carry every flag."""
    tj, tc = build_tokenizer(instructions(random.Random(3), 300), family, vocab_size=400)
    nxt = max(t["id"] for t in tj["added_tokens"]) + 1
    extra = [
        {"content": "[L]", "lstrip": True, "rstrip": False, "normalized": False, "special": True},
        {"content": "[R]", "lstrip": False, "rstrip": True, "normalized": False, "special": True},
        {"content": "[LR]", "lstrip": True, "rstrip": True, "normalized": False, "special": False},
        {"content": "e\u0301tude", "lstrip": False, "rstrip": False, "normalized": True, "special": False},
        {"content": "caf\u00e9", "lstrip": True, "rstrip": False, "normalized": True, "special": False},
        {"content": "\u212bngstr\u00f6m", "lstrip": False, "rstrip": True, "normalized": True, "special": False},
    ]
    for k, e in enumerate(extra):
        tj["added_tokens"].append(dict(e, id=nxt + k, single_word=False))
    return tj, tc, [e["content"] for e in extra]


# U+FEFF and U+0085 next to an lstrip/rstrip token: tokenizers.js trims
# ECMAScript whitespace, the Rust crate (and tokenizer.py) Unicode White_Space;
# they are left out of the comparison and checked against the Rust rule below.
JS_RUST_SPLIT = ("\ufeff", "\x85")
SPACES_SHARED = [s for s in SPACES if not any(c in s for c in JS_RUST_SPLIT)]


def flag_strings(contents, n=400):
    rng = random.Random(11)
    pool = contents + ["étude", "e\u0301tude", "café", "cafe\u0301", "Ångström", "A\u030angstr\u00f6m", "[L", "R]"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 7)):
            r = rng.random()
            parts.append(rng.choice(pool) if r < 0.4 else
                         "".join(rng.choice(SPACES_SHARED) for _ in range(rng.randint(1, 3))) if r < 0.7 else rng.choice(WORDS))
        out.append("".join(parts))
    return out + [" [L]", "[R] ", "  [LR]  ", "x\u00a0[L]\u3000[R]\u2028y", "\n\n[LR]\t\t", "caf\u00e9", " café"]


def main():
    t = Tap()
    # single_word: a match touching a word character is left as text
    tj, tc = build_tokenizer(["ab cd xab abx"] * 3, "qwen2", vocab_size=300)
    tj["added_tokens"].append({"id": 300, "content": "ab", "single_word": True, "lstrip": False, "rstrip": False,
                               "normalized": False, "special": False})
    tok = Tokenizer(tj, tc)
    t.ok(tok.encode("ab cd")[0] == 300 and 300 not in tok.encode("xab") and 300 not in tok.encode("abx")
         and tok.encode("x ab")[-1] == 300 and tok.encode("(ab)")[1] == 300,
         "single_word: the token matches only between non-word characters",
         f"{tok.encode('ab cd')} {tok.encode('xab')} {tok.encode('(ab)')}")
    tj["added_tokens"].append({"id": 301, "content": "[M]", "single_word": False, "lstrip": True, "rstrip": True,
                               "normalized": False, "special": True})
    tok = Tokenizer(tj, tc)
    t.ok(tok.encode("a\x85[M]\x85b") == tok.encode("a[M]b") and tok.encode("a\ufeff[M]b") != tok.encode("a[M]b")
         and tok.encode(" \t[M]\u3000\n") == [301],
         "lstrip/rstrip remove Unicode White_Space (U+0085 yes, U+FEFF no), as the Rust crate does")
    t.ok(tok.decode(tok.encode("x [M] y"), skip_special_tokens=True) == "xy", "lstrip/rstrip: decode drops the space")
    t.ok(tok.decode([999999, tok.token_to_id("c"), -1]) == "c", "decode skips ids the tokenizer does not know")
    # errors name the file and the field
    with tempfile.TemporaryDirectory() as d:
        t.raises(lambda: Tokenizer.from_dir(d), KitError, f"{d}/tokenizer.json: tokenizer file not found",
                 "a missing tokenizer.json is named")
        p = os.path.join(d, "tokenizer.json")
        with open(p, "w") as f:
            f.write('{"model":\n  {"type": "BPE",}\n}')
        t.raises(lambda: Tokenizer.from_files(p), KitError, f"{p}: line 2 column", "bad JSON: file, line, column")
        base, _ = build_tokenizer(["hello world"], "qwen3", vocab_size=300)

        def bad(edit):
            j = json.loads(json.dumps(base))
            edit(j)
            with open(p, "w") as f:
                json.dump(j, f)
            return lambda: Tokenizer.from_files(p)
        t.raises(bad(lambda j: j["model"].update(type="Unigram")), KitError, f"{p}: model.type: 'Unigram'",
                 "an unsupported model type is named")
        t.raises(bad(lambda j: j["model"]["merges"].insert(3, ["a"])), KitError, f"{p}: model.merges[3]",
                 "a malformed merge is named with its index")
        t.raises(bad(lambda j: j.update(normalizer={"type": "Lowercase"})), KitError, "normalizer type 'Lowercase'",
                 "an unsupported normalizer is named")
        t.raises(bad(lambda j: j["pre_tokenizer"]["pretokenizers"][0].update(behavior="MergedWithNext")), KitError,
                 "pre_tokenizer.pretokenizers[0].behavior", "an unsupported Split behaviour is named")
        t.raises(bad(lambda j: j["model"].update(byte_fallback=True)), KitError, "model.byte_fallback",
                 "byte_fallback is refused by name")
    nm, why = tokref.node_modules()
    for fam in ("llama", "qwen3"):
        tj, tc, contents = flagged(fam)
        tok = Tokenizer(tj, tc)
        strings = flag_strings(contents)
        if nm is None:
            t.skip(f"{fam}: lstrip/rstrip/normalized added tokens equal to @huggingface/tokenizers", why)
            continue
        with tempfile.TemporaryDirectory() as d:
            write_tokenizer(d, tj, tc)
            ref = tokref.tok_ref(nm, os.path.join(d, "tokenizer.json"), os.path.join(d, "tokenizer_config.json"),
                                 strings)
        res = tokref.compare_tokenizer(tok, ref, strings)
        nd = {k: len(v) for k, v in res["diff"].items()}
        used = sum(any(i in tok.added_ids and tok.id_to_token(i) in contents for i in ids) for ids in ref["ids"])
        print(f"# {fam} (flagged added tokens): {len(strings)} strings, {used} use them; differences: {nd}")
        t.ok(not any(nd.values()), f"{fam}: lstrip/rstrip/normalized added tokens equal to @huggingface/tokenizers "
             f"on {len(strings)} strings", tokref.describe_diffs(tok, ref, strings, res["diff"]["ids"]))
        t.ok(used > len(strings) // 2, f"{fam}: most strings exercise the flagged tokens ({used})")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
