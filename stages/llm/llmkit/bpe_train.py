"""A small byte-level BPE trainer that writes tokenizer.json and
tokenizer_config.json in a real family's format, so that tiny checkpoints
are tokenized and prompted exactly as Llama 3.1 / Qwen2.5 / Qwen3 are:

  family  normalizer  Split regex                 merges as   post-processor         special tokens
  llama   none        Llama 3's (\\p{N}{1,3})      "a b"       ByteLevel + BOS        <|begin_of_text|> <|end_of_text|>
                      ignore_merges: true                     (TemplateProcessing)   <|finetune_right_pad_id|>
                                                                                     <|start_header_id|> <|end_header_id|>
                                                                                     <|eom_id|> <|eot_id|>
  qwen2   NFC         Qwen's (\\p{N} single)       "a b"       ByteLevel              <|endoftext|> <|im_start|> <|im_end|>
  qwen3   NFC         Qwen's                      [a, b]      ByteLevel              the same + <think> </think> (not special)

tokenizer_config.json carries the family's bos/eos/pad tokens, its
added_tokens_decoder and a chat template in the family's format:
  llama  <|begin_of_text|><|start_header_id|>ROLE<|end_header_id|>\\n\\nCONTENT(trimmed)<|eot_id|>...
         (Llama 3's template; Llama 3.1's adds tools and a dated system header)
  qwen2  <|im_start|>ROLE\\nCONTENT<|im_end|>\\n..., with Qwen2.5's default system turn
  qwen3  <|im_start|>ROLE\\nCONTENT<|im_end|>\\n..., Qwen3's thinking rules: <think> blocks
         dropped from assistant turns before the last user turn, kept after it;
         enable_thinking=false appends an empty think block to the generation prompt.
tests/llm/t0220-bpe-train.sh checks that these render like the real templates
(qwen2 against a written-out expectation) and that tokenizer.py and
@huggingface/tokenizers agree on the trained files.

Training (Sennrich et al. 2016, byte-level as in GPT-2): the texts are
normalized and pre-tokenized with the family's regex, each piece mapped to
the 256-symbol byte alphabet, the template's role names and separators
(CHAT_PIECES) counted as more frequent than anything else so that they become
whole tokens first; then the most frequent adjacent pair (ties: the
smaller pair of strings) is merged until the vocabulary holds
vocab_size - len(special tokens) entries or no pair is left. The 256 byte
symbols take ids 0..255 in code-point order (as GPT-2 and Llama 3 do, so
"Ġ" is 220), merged tokens follow in merge order, special tokens come last.
Deterministic: the same texts give the same bytes.
"""
import collections
import json
import os
import unicodedata

import regex

from .errors import KitError
from .runtime import write_atomic
from .tokenizer import BYTE_ENCODER, translate_pattern

LLAMA_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                 r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

LLAMA_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

QWEN2_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Qwen3's rules without tools: the index of the last user turn decides which
# assistant turns keep their reasoning.
QWEN3_TEMPLATE = (
    "{%- set ns = namespace(last_user=messages|length - 1) %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'user' %}{%- set ns.last_user = loop.index0 %}{%- endif %}"
    "{%- endfor %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'user' or message.role == 'system' %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{%- set content = message.content %}"
    "{%- set reasoning = '' %}"
    "{%- if message.reasoning_content is defined and message.reasoning_content is not none %}"
    "{%- set reasoning = message.reasoning_content %}"
    "{%- elif '</think>' in content %}"
    "{%- set reasoning = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}"
    "{%- endif %}"
    "{%- if loop.index0 > ns.last_user and (loop.last or reasoning) %}"
    "{{- '<|im_start|>assistant\\n<think>\\n' + reasoning.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}"
    "{%- else %}"
    "{{- '<|im_start|>assistant\\n' + content }}"
    "{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)

# The text the chat template puts between special tokens, as byte-level
# pre-tokens: always made whole tokens (as in the real vocabularies: Llama 3's
# "assistant" 78191 and "\n\n" 271, Qwen's "assistant" 77091 and "\n" 198), so
# a tiny checkpoint's post-instruction positions are the real ones.
CHAT_PIECES = {
    "llama": ["system", "user", "assistant", "ĊĊ"],
    "qwen2": ["system", "user", "assistant", "Ċ"],
    "qwen3": ["system", "user", "assistant", "Ċ", "ĊĊ"],
}

# (content, special) in id order after the BPE vocabulary
SPECIALS = {
    "llama": [("<|begin_of_text|>", True), ("<|end_of_text|>", True), ("<|finetune_right_pad_id|>", True),
              ("<|start_header_id|>", True), ("<|end_header_id|>", True), ("<|eom_id|>", True),
              ("<|eot_id|>", True)],
    "qwen2": [("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True)],
    "qwen3": [("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<think>", False),
              ("</think>", False)],
}
FAMILIES = tuple(SPECIALS)


def _pre_tokenize(texts, family):
    """-> Counter of byte-level pieces over all texts (special-token text is
    left out, as the tokenizer splits it off before pre-tokenizing)."""
    pattern = regex.compile(translate_pattern(LLAMA_PATTERN if family == "llama" else QWEN_PATTERN, family))
    specials = regex.compile("|".join(regex.escape(c) for c, _ in sorted(SPECIALS[family], key=lambda x: -len(x[0]))))
    counts = collections.Counter()
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise KitError(f"build_tokenizer: texts[{i}] is a {type(t).__name__}, not a str")
        for section in specials.split(t):
            if family != "llama":
                section = unicodedata.normalize("NFC", section)
            for m in pattern.finditer(section):
                counts["".join(BYTE_ENCODER[b] for b in m.group().encode("utf-8"))] += 1
    return counts


def train_merges(counts, n_merges):
    """Byte-level BPE on a Counter of pieces: -> list of (a, b) merges, most
    frequent pair first (ties: the smaller (a, b))."""
    words = [list(w) for w in counts]
    freq = [counts[w] for w in counts]
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for wi, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pairs[(a, b)] += freq[wi]
            where[(a, b)].add(wi)
    merges = []
    while len(merges) < n_merges:
        best = None
        for p, c in pairs.items():
            if c > 0 and (best is None or c > best[1] or (c == best[1] and p < best[0])):
                best = (p, c)
        if best is None:
            break
        (a, b), _ = best
        merges.append((a, b))
        ab = a + b
        for wi in sorted(where.pop((a, b), ())):
            w = words[wi]
            f = freq[wi]
            for x, y in zip(w, w[1:]):  # remove this word's old pairs
                pairs[(x, y)] -= f
            out = []
            i = 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(ab)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[wi] = out
            for x, y in zip(out, out[1:]):
                pairs[(x, y)] += f
                where[(x, y)].add(wi)
        pairs.pop((a, b), None)
    return merges


def build_tokenizer(texts, family, vocab_size=512):
    """Trains a byte-level BPE on `texts` (list of str) in `family`'s format
    (llama | qwen2 | qwen3). vocab_size counts everything: 256 byte symbols,
    the merges and the family's special tokens; fewer merges are made when the
    texts run out of pairs (the file's size is then smaller, see
    Tokenizer.vocab_size). -> (tokenizer_json dict, tokenizer_config dict).
    Raises KitError for an unknown family or a vocab_size below 256 + the
    special tokens."""
    if family not in SPECIALS:
        raise KitError(f"build_tokenizer: family {family!r} is not one of {', '.join(FAMILIES)}")
    specials = SPECIALS[family]
    if not isinstance(vocab_size, int) or vocab_size < 256 + len(specials):
        raise KitError(f"build_tokenizer: vocab_size {vocab_size!r} is below 256 byte symbols + "
                       f"{len(specials)} special tokens")
    counts = _pre_tokenize(texts, family)
    top = max(counts.values(), default=0) + 1
    for piece in CHAT_PIECES[family]:
        counts[piece] += top  # most frequent: merged first, whole
    merges = train_merges(counts, vocab_size - 256 - len(specials))
    vocab = {}
    for c in sorted(BYTE_ENCODER.values()):
        vocab[c] = len(vocab)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    added = []
    for content, special in specials:
        added.append({"id": len(vocab) + len(added), "content": content, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": special})
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": family == "llama",
                  "use_regex": False}
    split = {"type": "Split", "pattern": {"Regex": LLAMA_PATTERN if family == "llama" else QWEN_PATTERN},
             "behavior": "Isolated", "invert": False}
    if family == "llama":
        bos = added[0]["content"]
        post = {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {bos: {"id": bos, "ids": [added[0]["id"]], "tokens": [bos]}}}]}
        decoder = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    else:
        post = dict(byte_level)
        decoder = dict(byte_level)
    tj = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None if family == "llama" else {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [split, byte_level]},
        "post_processor": post,
        "decoder": decoder,
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None,
            "continuing_subword_prefix": None if family == "llama" else "",
            "end_of_word_suffix": None if family == "llama" else "",
            "fuse_unk": False, "byte_fallback": False, "ignore_merges": family == "llama",
            "vocab": vocab,
            "merges": [[a, b] for a, b in merges] if family == "qwen3" else [f"{a} {b}" for a, b in merges],
        },
    }
    decoder_map = {str(t["id"]): {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word",
                                                   "special")} for t in added}
    if family == "llama":
        tc = {"added_tokens_decoder": decoder_map, "bos_token": "<|begin_of_text|>", "chat_template": LLAMA_TEMPLATE,
              "clean_up_tokenization_spaces": True, "eos_token": "<|eot_id|>",
              "model_input_names": ["input_ids", "attention_mask"], "model_max_length": 131072,
              "tokenizer_class": "PreTrainedTokenizerFast"}
    else:
        tc = {"add_bos_token": False, "add_prefix_space": False, "added_tokens_decoder": decoder_map,
              "additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "bos_token": None,
              "chat_template": QWEN2_TEMPLATE if family == "qwen2" else QWEN3_TEMPLATE,
              "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>", "errors": "replace",
              "model_max_length": 32768 if family == "qwen2" else 131072, "pad_token": "<|endoftext|>",
              "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer", "unk_token": None}
    return tj, tc


def write_tokenizer(path, tokenizer_json, tokenizer_config):
    """Writes PATH/tokenizer.json and PATH/tokenizer_config.json (creating
    PATH), each through a temporary file and a rename; byte-stable."""
    os.makedirs(path, exist_ok=True)
    for name, obj in (("tokenizer.json", tokenizer_json), ("tokenizer_config.json", tokenizer_config)):
        write_atomic(os.path.join(path, name), json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
