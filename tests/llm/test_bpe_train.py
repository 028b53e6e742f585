"""bpe_train.py: tiny byte-level BPE tokenizers in the llama / qwen2 / qwen3
formats. Checks, per family: the vocabulary size and special-token ids; that
the files are byte-stable; that tokenizer.py and @huggingface/tokenizers
agree on them (ids, decode) on ~1,500 generated strings; that the trained
chat template renders exactly as @huggingface/jinja renders it, and exactly
as the real family template does (Llama 3.1 and Qwen3 npm files; qwen2
against Qwen2.5's format written out here); that the trainer's merges
compress text (fewer tokens than bytes). Errors: unknown family, too small a
vocabulary. The reference comparisons SKIP when npm-refs.sh exits 3."""
import os
import random
import sys
import tempfile

import tokref
from tap import Tap
from tok_cases import all_cases, instructions, unicode_strings
from test_chat import conversations

from llmkit.bpe_train import SPECIALS, build_tokenizer, write_tokenizer
from llmkit.chat import ChatTemplate, special_tokens_map
from llmkit.errors import KitError
from llmkit.tokenizer import Tokenizer

REAL = {"llama": "llama3_1", "qwen3": "qwen3"}


def corpus():
    rng = random.Random(7)
    return instructions(rng, 1500) + unicode_strings(rng, 100)


def main():
    t = Tap()
    t.raises(lambda: build_tokenizer(["x"], "gpt2"), KitError, "family 'gpt2'", "an unknown family is refused")
    t.raises(lambda: build_tokenizer(["x"], "llama", vocab_size=260), KitError, "vocab_size 260",
             "a vocabulary smaller than bytes + special tokens is refused")
    nm, why = tokref.node_modules()
    texts = corpus()
    for fam in ("llama", "qwen2", "qwen3"):
        tj, tc = build_tokenizer(texts, fam, vocab_size=512)
        tj2, tc2 = build_tokenizer(list(texts), fam, vocab_size=512)
        with tempfile.TemporaryDirectory() as d:
            write_tokenizer(d, tj, tc)
            a = [open(os.path.join(d, n), "rb").read() for n in ("tokenizer.json", "tokenizer_config.json")]
            write_tokenizer(d, tj2, tc2)
            b = [open(os.path.join(d, n), "rb").read() for n in ("tokenizer.json", "tokenizer_config.json")]
            t.ok(a == b and not [n for n in os.listdir(d) if ".tmp" in n],
                 f"{fam}: trained files are byte-stable and written without leftovers")
            tok = Tokenizer.from_dir(d)
            n_special = len(SPECIALS[fam])
            t.ok(tok.vocab_size == 512 and sorted(tok.added_ids) == list(range(512 - n_special, 512)),
                 f"{fam}: vocab_size 512 with the special tokens last", f"{tok.vocab_size} {sorted(tok.added_ids)}")
            t.ok(tok.token_to_id("Ġ") == 220 and tok.token_to_id("!") == 0, f"{fam}: byte symbols in GPT-2 order")
            sample = texts[:200]
            n_bytes = sum(len(s.encode()) for s in sample)
            n_tok = sum(len(tok.encode(s, add_special_tokens=False)) for s in sample)
            t.ok(n_tok < 0.6 * n_bytes, f"{fam}: merges compress the training text ({n_tok} tokens for {n_bytes} bytes)")
            tmpl = ChatTemplate.from_dir(d)
            whole = all(tok.token_to_id(w) is not None for w in ("system", "user", "assistant"))
            t.ok(whole, f"{fam}: the template's role names are whole tokens")
            if fam == "llama":
                ids = tok.encode(tmpl.render([{"role": "user", "content": "Hi"}]), add_special_tokens=False)
                want = [tok.token_to_id(x) for x in ("<|begin_of_text|>", "<|start_header_id|>")]
                eoi = [tok.token_to_id(x) for x in ("<|eot_id|>", "<|start_header_id|>", "assistant",
                                                      "<|end_header_id|>", "ĊĊ")]
                t.ok(ids[:2] == want and ids[-5:] == eoi
                     and tok.eos_token_id == tok.token_to_id("<|eot_id|>") and tok.bos_token_id == want[0],
                     f"{fam}: the chat prompt starts with BOS + header and ends with Llama-3's 5 post-instruction tokens", f"{ids}")
                t.ok(tok.encode("x")[0] == tok.bos_token_id, f"{fam}: the post-processor adds BOS")
            else:
                ids = tok.encode(tmpl.render([{"role": "user", "content": "Hi"}]))
                eoi = [tok.token_to_id(x) for x in ("<|im_end|>", "Ċ", "<|im_start|>", "assistant", "Ċ")]
                t.ok(ids[-5:] == eoi
                     and tok.eos_token_id == tok.token_to_id("<|im_end|>")
                     and tok.pad_token_id == tok.token_to_id("<|endoftext|>") and tok.bos_token_id is None,
                     f"{fam}: the chat prompt ends with Qwen's 5 post-instruction tokens; eos <|im_end|>, pad <|endoftext|>",
                     f"{ids}")
            if nm is None:
                t.skip(f"{fam}: trained tokenizer equal to @huggingface/tokenizers", why)
                t.skip(f"{fam}: trained template equal to @huggingface/jinja", why)
                continue
            # tokenizer.py vs @huggingface/tokenizers on the trained files
            specials = [x for x, _ in SPECIALS[fam]]
            cases = all_cases(seed=30, specials=specials, foreign=["<|im_start|>", "<|eot_id|>", "<s>"],
                              n_instr=500, n_each=140)
            strings = [s for _, s in cases]
            ref = tokref.tok_ref(nm, os.path.join(d, "tokenizer.json"), os.path.join(d, "tokenizer_config.json"),
                                 strings)
            res = tokref.compare_tokenizer(tok, ref, strings)
            nd = {k: len(v) for k, v in res["diff"].items()}
            print(f"# {fam} (trained, vocab 512): {res['n']} strings; differences from @huggingface/tokenizers: "
                  f"{nd}; round trips: reference {res['roundtrip_ref']}, ours {res['roundtrip_ours']}")
            t.ok(not any(nd.values()) and not res["roundtrip_missed"],
                 f"{fam}: trained tokenizer equal to @huggingface/tokenizers on {res['n']} strings",
                 tokref.describe_diffs(tok, ref, strings, res["diff"]["ids"]))
            # the template: @huggingface/jinja, and the real family template
            kws = [{}] if fam != "qwen3" else [{}, {"enable_thinking": False}]
            convs = [c for c, tools in conversations(40, 25) if tools is None
                     and not any(m["role"] == "tool" or "tool_calls" in m for m in c)]
            jcases, ours = [], []
            for msgs in convs:
                for agp in (True, False):
                    for kw in kws:
                        ctx = dict(special_tokens_map(tc), messages=msgs, add_generation_prompt=agp, **kw)
                        jcases.append({"template": tc["chat_template"], "context": ctx})
                        ours.append(tmpl.render(msgs, add_generation_prompt=agp, **kw))
            jref = tokref.jinja_ref(nm, jcases)
            nd = sum(r != o for r, o in zip(jref, ours))
            print(f"# {fam} (trained): {len(ours)} chat renders, {nd} differences from @huggingface/jinja")
            t.ok(nd == 0, f"{fam}: trained template renders equal to @huggingface/jinja ({len(ours)} renders)")
            if fam in REAL:
                real = ChatTemplate.from_dir(tokref.model_dir(nm, REAL[fam]))
                k = 0
                diffs = []
                for msgs in convs:
                    for agp in (True, False):
                        for kw in kws:
                            r = real.render(msgs, add_generation_prompt=agp, **kw)
                            if r != ours[k]:
                                diffs.append((r, ours[k]))
                            k += 1
                print(f"# {fam} (trained): {len(ours)} renders, {len(diffs)} differences from the real "
                      f"{REAL[fam]} template")
                t.ok(not diffs, f"{fam}: trained template renders as the real {REAL[fam]} one ({len(ours)} renders)",
                     "\n".join(f"real {a!r}\nours {b!r}" for a, b in diffs[:2]))
            else:
                got = tmpl.render([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"},
                                   {"role": "user", "content": "Bye"}])
                want = ("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
                        "<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n"
                        "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n")
                got_sys = tmpl.render([{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}],
                                      add_generation_prompt=False)
                t.ok(got == want and got_sys == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n",
                     f"{fam}: Qwen2.5's format (default system turn when none is given)", f"{got!r}\n{got_sys!r}")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
