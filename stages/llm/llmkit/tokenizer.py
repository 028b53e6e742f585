"""Byte-level BPE tokenizers read from a checkpoint's tokenizer.json and
tokenizer_config.json (the Hugging Face `tokenizers` file format), for the
llama (Llama 3/3.1) and qwen2/qwen3 families.

Owns: encode (text -> token ids) and decode (ids -> text). Follows the
reference implementation @huggingface/tokenizers (tokenizers.js 0.2.0, a port
of the Rust `tokenizers` crate) step by step, so that ids are equal to it on
the real Llama-3.1 and Qwen3 files (tests/llm/t0200-tokenizer.sh counts them):

  1. added tokens are split out first, leftmost-longest, in two passes: the
     `normalized: false` ones on the raw text, the `normalized: true` ones on
     the normalized text; `lstrip`/`rstrip` remove the whitespace on that side
     of the token; `single_word` keeps a match only when no word character
     touches it. For these flags the module follows the Rust crate
     (tokenizers/src/tokenizer/added_vocabulary.rs), which transformers
     uses: whitespace is Unicode White_Space (tokenizers.js trims
     ECMAScript whitespace: it also strips U+FEFF and keeps U+0085), and a
     match that is not a single word is dropped (tokenizers.js ignores
     single_word). The real Llama/Qwen files set none of these flags;
  2. normalizer: NFC / NFKC / NFD / NFKD or a Sequence of them;
  3. pre-tokenizer: Split (Regex, behaviour Isolated) with the Oniguruma
     pattern translated the way tokenizers.js translates it (\\s is Unicode
     White_Space, (?i:...) folds ASCII letters only), then ByteLevel (GPT-2's
     byte -> printable-character map; optional prefix space and GPT-2 regex);
  4. model: BPE by merge rank (lowest rank first, leftmost on ties), merges
     given as "a b" strings or as [a, b] pairs; `ignore_merges` keeps a
     pre-token that is already in the vocabulary whole;
  5. post-processor: TemplateProcessing (e.g. Llama 3.1's BOS), ByteLevel
     (no change to ids), or a Sequence of these.

decode: ids -> tokens (ids the tokenizer does not know are skipped, as the
Rust crate does), special tokens dropped when asked, ByteLevel decoder (bytes
back to UTF-8, invalid sequences become U+FFFD; added tokens are kept as
their text), then transformers' clean_up_tokenization when
tokenizer_config.json's clean_up_tokenization_spaces is true (default true,
as tokenizers.js).

Known limits:
  - character classes (\\p{L}, \\p{N}) come from python3-regex's Unicode
    tables (15.0 on Debian 12) and NFC from Python's unicodedata (14.0);
    node's are Unicode 17, so characters assigned after 15.0 may split
    differently (t0200 measures it: 6 of 50 strings built from such
    characters);
  - (?i:...) folds ASCII only, as tokenizers.js does; Oniguruma (the Rust
    crate) folds full Unicode, so "'\u017f" (long s) may be a contraction
    there: not checkable here (no `tokenizers` on this machine);
  - a lone surrogate in the text encodes as U+FFFD (TextEncoder's rule).
Anything the module does not implement (other models, normalizers,
pre-tokenizers, byte_fallback, dropout) raises KitError naming the file and
the field.
"""
import json
import os
import unicodedata

import regex

from .errors import KitError


def bytes_to_unicode():
    """GPT-2's map from each byte 0..255 to a printable character (the
    ByteLevel alphabet): printable Latin-1 bytes map to themselves, the other
    68 to U+0100 onwards in byte order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = list(bs)
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_ENCODER = bytes_to_unicode()
BYTE_DECODER = {c: b for b, c in BYTE_ENCODER.items()}

# GPT-2's pre-tokenizer pattern, used by ByteLevel when use_regex is true
# (tokenizers.js ByteLevel, with \s as Unicode White_Space).
GPT2_PATTERN = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+"
                r"|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+")

# Unicode White_Space: what lstrip/rstrip remove next to an added token.
WHITESPACE = regex.compile(r"\p{White_Space}+")
_WORD = regex.compile(r"\w")


def translate_pattern(pattern, where):
    """Translates an Oniguruma pattern from tokenizer.json into python3-regex
    syntax with the semantics tokenizers.js gives it: \\s/\\S become Unicode
    White_Space (Oniguruma's meaning, not Python's str.isspace), and ASCII
    letters inside (?i:...) become [xX] classes (ASCII case folding only, so
    e.g. U+017F does not match 's'). Raises KitError naming `where` for
    constructs it does not translate (classes or nested groups inside (?i:)."""
    out = []
    i = 0
    fold_depth = 0  # >0 while inside a (?i: group; counts nested parentheses
    in_class = False
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise KitError(f"{where}: pattern ends with a lone backslash")
            e = pattern[i + 1]
            if e == "s":
                out.append(r"\p{White_Space}")
            elif e == "S":
                out.append(r"\P{White_Space}")
            else:
                out.append(c + e)
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            if fold_depth:
                raise KitError(f"{where}: a character class inside (?i:...) is not supported")
            in_class = True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":  # a literal ] first in the class
                out.append("\\]")
                i += 1
            continue
        if pattern.startswith("(?i:", i):
            if fold_depth:
                raise KitError(f"{where}: nested (?i:...) groups are not supported")
            fold_depth = 1
            out.append("(?:")
            i += 4
            continue
        if fold_depth:
            if c == "(":
                fold_depth += 1
            elif c == ")":
                fold_depth -= 1
            elif c.isascii() and c.isalpha():
                c = f"[{c.lower()}{c.upper()}]"
        out.append(c)
        i += 1
    if in_class or fold_depth:
        raise KitError(f"{where}: unbalanced pattern")
    return "".join(out)


def _load_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise KitError(f"{path}: {what} not found") from None
    except json.JSONDecodeError as e:
        raise KitError(f"{path}: line {e.lineno} column {e.colno}: {e.msg}") from None
    except UnicodeDecodeError as e:
        raise KitError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None


def _token_content(value):
    """A special-token entry of tokenizer_config.json: a string, or an
    AddedToken dict {"content": ...}, or null."""
    if isinstance(value, dict):
        return value.get("content")
    return value


class _AddedToken:
    __slots__ = ("id", "content", "single_word", "lstrip", "rstrip", "normalized", "special")

    def __init__(self, d, where):
        try:
            self.id = int(d["id"])
            self.content = str(d["content"])
        except (KeyError, TypeError, ValueError):
            raise KitError(f"{where}: an added token needs an integer 'id' and a 'content'") from None
        if not self.content:
            raise KitError(f"{where}: added token {self.id} has empty content")
        self.single_word = bool(d.get("single_word", False))
        self.lstrip = bool(d.get("lstrip", False))
        self.rstrip = bool(d.get("rstrip", False))
        self.special = bool(d.get("special", False))
        self.normalized = bool(d.get("normalized", not self.special))


class _AddedSplitter:
    """Finds added tokens leftmost-longest (tokenizers.js DictionarySplitter,
    the Rust crate's aho-corasick LeftmostLongest)."""

    def __init__(self, tokens):
        self.by_content = {t.content: t for t in tokens}
        alts = sorted(self.by_content, key=lambda s: (-len(s), s))
        self.rx = regex.compile("|".join(regex.escape(a) for a in alts)) if alts else None

    def split(self, text):
        """-> list of (piece, AddedToken|None), with lstrip/rstrip applied to
        the neighbouring pieces and single_word matches left as text."""
        if self.rx is None or not text:
            return [(text, None)] if text else []
        parts = []
        start = 0
        pos = 0
        while True:
            m = self.rx.search(text, pos)
            if m is None:
                break
            tok = self.by_content[m.group()]
            if tok.single_word and (
                (m.start() > 0 and _WORD.match(text[m.start() - 1]))
                or (m.end() < len(text) and _WORD.match(text[m.end()]))
            ):
                pos = m.end()  # discarded, not retried inside (the Rust crate's find_iter)
                continue
            if m.start() > start:
                parts.append([text[start:m.start()], None])
            parts.append([m.group(), tok])
            start = pos = m.end()
        if start < len(text):
            parts.append([text[start:], None])
        for i, (piece, tok) in enumerate(parts):
            if tok is None:
                continue
            if tok.lstrip and i > 0 and parts[i - 1][1] is None:
                parts[i - 1][0] = _rstrip_ws(parts[i - 1][0])
            if tok.rstrip and i + 1 < len(parts) and parts[i + 1][1] is None:
                parts[i + 1][0] = _lstrip_ws(parts[i + 1][0])
        return [(p, t) for p, t in parts if p]


def _rstrip_ws(s):
    m = regex.search(r"\p{White_Space}+$", s)
    return s[:m.start()] if m else s


def _lstrip_ws(s):
    m = WHITESPACE.match(s)
    return s[m.end():] if m else s


def _make_normalizer(cfg, where):
    if cfg is None:
        return None
    kind = cfg.get("type")
    if kind in ("NFC", "NFD", "NFKC", "NFKD"):
        return lambda s, form=kind: unicodedata.normalize(form, s)
    if kind == "Sequence":
        steps = [_make_normalizer(c, f"{where}.normalizers[{i}]") for i, c in enumerate(cfg.get("normalizers", []))]
        steps = [s for s in steps if s]

        def seq(s):
            for f in steps:
                s = f(s)
            return s
        return seq
    raise KitError(f"{where}: normalizer type {kind!r} is not supported (NFC, NFD, NFKC, NFKD, Sequence)")


def _make_pre_tokenizer(cfg, where):
    """-> function str -> list[str] of byte-level pre-tokens."""
    if cfg is None:
        raise KitError(f"{where}: a pre_tokenizer is needed (byte-level BPE)")
    kind = cfg.get("type")
    if kind == "Sequence":
        steps = [_make_pre_tokenizer_step(c, f"{where}.pretokenizers[{i}]")
                 for i, c in enumerate(cfg.get("pretokenizers", []))]
    else:
        steps = [_make_pre_tokenizer_step(cfg, where)]
    if not any(kind == "ByteLevel" for kind, _ in steps):
        raise KitError(f"{where}: no ByteLevel pre-tokenizer; only byte-level BPE is supported")

    def run(text):
        pieces = [text]
        for _, f in steps:
            nxt = []
            for p in pieces:
                nxt.extend(f(p))
            pieces = nxt
        return pieces
    return run


def _make_pre_tokenizer_step(cfg, where):
    kind = cfg.get("type")
    if kind == "Split":
        pat = cfg.get("pattern") or {}
        if "Regex" in pat:
            rx = regex.compile(translate_pattern(pat["Regex"], f"{where}.pattern.Regex"))
        elif "String" in pat:
            rx = regex.compile(regex.escape(pat["String"]))
        else:
            raise KitError(f"{where}.pattern: needs 'Regex' or 'String'")
        behavior = str(cfg.get("behavior", "")).lower()
        if cfg.get("invert", False):
            raise KitError(f"{where}.invert: true is not supported")
        if behavior == "isolated":
            def split(text):
                out = []
                prev = 0
                for m in rx.finditer(text):
                    if m.start() > prev:
                        out.append(text[prev:m.start()])
                    if m.end() > m.start():
                        out.append(m.group())
                    prev = m.end()
                if prev < len(text):
                    out.append(text[prev:])
                return out
        elif behavior == "removed":
            def split(text):
                return [p for p in rx.split(text) if p]
        else:
            raise KitError(f"{where}.behavior: {cfg.get('behavior')!r} is not supported (Isolated, Removed)")
        return kind, split
    if kind == "ByteLevel":
        prefix = bool(cfg.get("add_prefix_space", False))
        gpt2 = regex.compile(GPT2_PATTERN) if cfg.get("use_regex", True) else None

        def byte_level(text):
            if prefix and not text.startswith(" "):
                text = " " + text
            pieces = gpt2.findall(text) if gpt2 is not None else [text]
            return ["".join(BYTE_ENCODER[b] for b in _utf8(p)) for p in pieces]
        return kind, byte_level
    raise KitError(f"{where}: pre-tokenizer type {kind!r} is not supported (Split, ByteLevel, Sequence)")


_SURROGATE = regex.compile("[\ud800-\udfff]")


def _utf8(text):
    """UTF-8 bytes; a lone surrogate (possible in a Python str read from JSON)
    becomes U+FFFD, as JavaScript's TextEncoder makes it."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode("utf-8")


class _BPE:
    """The BPE model: vocabulary, merge ranks, and the merge loop."""

    def __init__(self, cfg, where):
        if cfg.get("type", "BPE") != "BPE":
            raise KitError(f"{where}.type: {cfg.get('type')!r} is not supported (BPE)")
        if cfg.get("dropout") not in (None, 0, 0.0):
            raise KitError(f"{where}.dropout: BPE dropout is not supported")
        if cfg.get("byte_fallback"):
            raise KitError(f"{where}.byte_fallback: true is not supported (byte-level BPE only)")
        for k in ("continuing_subword_prefix", "end_of_word_suffix"):
            if cfg.get(k):
                raise KitError(f"{where}.{k}: {cfg[k]!r} is not supported")
        vocab = cfg.get("vocab")
        if not isinstance(vocab, dict):
            raise KitError(f"{where}.vocab: missing or not an object")
        self.vocab = vocab
        self.ranks = {}
        merges = cfg.get("merges")
        if not isinstance(merges, list):
            raise KitError(f"{where}.merges: missing or not a list")
        for i, m in enumerate(merges):
            if isinstance(m, str):
                pair = m.split(" ")
            elif isinstance(m, list):
                pair = m
            else:
                pair = None
            if pair is None or len(pair) != 2 or not all(isinstance(x, str) for x in pair):
                raise KitError(f"{where}.merges[{i}]: {m!r} is not 'a b' nor [a, b]")
            self.ranks.setdefault((pair[0], pair[1]), i)
        self.ignore_merges = bool(cfg.get("ignore_merges", False))
        self.unk = cfg.get("unk_token")
        self.cache = {}

    def bpe(self, word):
        """Merges the characters of one pre-token: the pair with the lowest
        rank first, the leftmost one on ties (a heap over a linked list, as
        the Rust crate and tokenizers.js do)."""
        import heapq

        syms = list(word)
        n = len(syms)
        if n < 2:
            return syms
        nxt = list(range(1, n)) + [-1]
        prv = list(range(-1, n - 1))
        ranks = self.ranks
        heap = []
        for i in range(n - 1):
            r = ranks.get((syms[i], syms[i + 1]))
            if r is not None:
                heap.append((r, i, syms[i], syms[i + 1]))
        heapq.heapify(heap)
        while heap:
            r, i, a, b = heapq.heappop(heap)
            j = nxt[i]
            if syms[i] != a or j < 0 or syms[j] != b:
                continue  # stale: one side has merged since
            syms[i] = a + b
            syms[j] = None
            k = nxt[j]
            nxt[i] = k
            if k >= 0:
                prv[k] = i
                r2 = ranks.get((syms[i], syms[k]))
                if r2 is not None:
                    heapq.heappush(heap, (r2, i, syms[i], syms[k]))
            p = prv[i]
            if p >= 0:
                r2 = ranks.get((syms[p], syms[i]))
                if r2 is not None:
                    heapq.heappush(heap, (r2, p, syms[p], syms[i]))
        out = []
        i = 0
        while i >= 0:
            out.append(syms[i])
            i = nxt[i]
        return out

    def tokenize(self, piece):
        """-> token strings of one byte-level pre-token (pieces not in the
        vocabulary become unk_token, or are dropped without one)."""
        hit = self.cache.get(piece)
        if hit is not None:
            return hit
        if self.ignore_merges and piece in self.vocab:
            toks = [piece]
        else:
            toks = []
            for t in self.bpe(piece):
                if t in self.vocab:
                    toks.append(t)
                elif self.unk is not None:
                    toks.append(self.unk)
        if len(piece) < 256:
            if len(self.cache) > 100000:
                self.cache.clear()
            self.cache[piece] = toks
        return toks


class Tokenizer:
    """A byte-level BPE tokenizer from tokenizer.json (+ tokenizer_config.json).

    encode(text, add_special_tokens=True) -> list[int]
    decode(ids, skip_special_tokens=False) -> str
    token_to_id(str) -> int|None, id_to_token(int) -> str|None
    vocab_size (largest id + 1, added tokens included), bos_token_id,
    eos_token_id, pad_token_id (from tokenizer_config.json; None when unset),
    special_ids (ids of added tokens marked special and of the config's named
    special tokens)."""

    def __init__(self, tokenizer_json, tokenizer_config=None, source="tokenizer.json",
                 config_source="tokenizer_config.json"):
        tj = tokenizer_json
        tc = tokenizer_config or {}
        if not isinstance(tj, dict):
            raise KitError(f"{source}: not a JSON object")
        if not isinstance(tc, dict):
            raise KitError(f"{config_source}: not a JSON object")
        self.source = source
        self.model = _BPE(tj.get("model") or {}, f"{source}: model")
        self.normalizer = _make_normalizer(tj.get("normalizer"), f"{source}: normalizer")
        self.pre_tokenize = _make_pre_tokenizer(tj.get("pre_tokenizer"), f"{source}: pre_tokenizer")
        self.template = self._post_processor(tj.get("post_processor"), f"{source}: post_processor")
        dec = tj.get("decoder")
        if dec is not None and dec.get("type") != "ByteLevel":
            raise KitError(f"{source}: decoder type {dec.get('type')!r} is not supported (ByteLevel)")
        self.byte_level_decoder = dec is not None

        self.id_to_tok = {int(i): t for t, i in self.model.vocab.items()}
        self.tok_to_id = dict(self.model.vocab)
        self.added = []
        for k, d in enumerate(tj.get("added_tokens") or []):
            t = _AddedToken(d, f"{source}: added_tokens[{k}]")
            self.added.append(t)
            self.id_to_tok[t.id] = t.content
            self.tok_to_id[t.content] = t.id
        self.added_by_content = {t.content: t for t in self.added}
        self.added_ids = {t.id for t in self.added}
        self.raw_splitter = _AddedSplitter([t for t in self.added if not (t.normalized and self.normalizer)])
        norm_tokens = []
        for t in self.added:
            if t.normalized and self.normalizer:
                nt = _AddedToken({"id": t.id, "content": self.normalizer(t.content), "single_word": t.single_word,
                                  "lstrip": t.lstrip, "rstrip": t.rstrip, "special": t.special,
                                  "normalized": True}, source)
                norm_tokens.append(nt)
        self.norm_splitter = _AddedSplitter(norm_tokens)

        self.bos_token = _token_content(tc.get("bos_token"))
        self.eos_token = _token_content(tc.get("eos_token"))
        self.pad_token = _token_content(tc.get("pad_token"))
        self.unk_token = _token_content(tc.get("unk_token"))
        self.bos_token_id = self.token_to_id(self.bos_token) if self.bos_token else None
        self.eos_token_id = self.token_to_id(self.eos_token) if self.eos_token else None
        self.pad_token_id = self.token_to_id(self.pad_token) if self.pad_token else None
        special = {t.id for t in self.added if t.special}
        named = [self.bos_token, self.eos_token, self.pad_token, self.unk_token]
        named += [_token_content(x) for x in tc.get("additional_special_tokens") or []]
        for name in named:
            if name and self.token_to_id(name) is not None:
                special.add(self.token_to_id(name))
        self.special_ids = special
        cleanup = tc.get("clean_up_tokenization_spaces", True)
        self.clean_up_tokenization_spaces = bool(cleanup)
        self.vocab_size = max(self.id_to_tok) + 1 if self.id_to_tok else 0

    def _post_processor(self, cfg, where):
        """-> (prefix ids, suffix ids) that TemplateProcessing's `single`
        template puts around the sequence, or None."""
        if cfg is None:
            return None
        kind = cfg.get("type")
        if kind == "ByteLevel":
            return None
        if kind == "Sequence":
            found = None
            for i, c in enumerate(cfg.get("processors") or []):
                t = self._post_processor(c, f"{where}.processors[{i}]")
                if t is not None:
                    if found is not None:
                        raise KitError(f"{where}: more than one TemplateProcessing is not supported")
                    found = t
            return found
        if kind == "TemplateProcessing":
            specials = cfg.get("special_tokens") or {}
            pre, post, seen = [], [], False
            for k, item in enumerate(cfg.get("single") or []):
                if "Sequence" in item:
                    if item["Sequence"].get("id") != "A" or seen:
                        raise KitError(f"{where}.single[{k}]: only one sequence 'A' is supported")
                    seen = True
                elif "SpecialToken" in item:
                    name = item["SpecialToken"].get("id")
                    if name not in specials or not specials[name].get("ids"):
                        raise KitError(f"{where}.single[{k}]: special token {name!r} is not in special_tokens")
                    (post if seen else pre).extend(int(x) for x in specials[name]["ids"])
                else:
                    raise KitError(f"{where}.single[{k}]: neither Sequence nor SpecialToken")
            if not seen:
                raise KitError(f"{where}.single: no sequence 'A'")
            return pre, post
        raise KitError(f"{where}: post-processor type {kind!r} is not supported "
                       "(TemplateProcessing, ByteLevel, Sequence)")

    @classmethod
    def from_files(cls, tokenizer_json_path, tokenizer_config_path=None):
        tj = _load_json(tokenizer_json_path, "tokenizer file")
        tc = _load_json(tokenizer_config_path, "tokenizer config") if tokenizer_config_path else None
        return cls(tj, tc, source=str(tokenizer_json_path), config_source=str(tokenizer_config_path))

    @classmethod
    def from_dir(cls, path):
        """Reads DIR/tokenizer.json and, when present, DIR/tokenizer_config.json."""
        tc = os.path.join(path, "tokenizer_config.json")
        return cls.from_files(os.path.join(path, "tokenizer.json"), tc if os.path.exists(tc) else None)

    def token_to_id(self, token):
        return self.tok_to_id.get(token)

    def id_to_token(self, i):
        return self.id_to_tok.get(i)

    def _encode_plain(self, text, out):
        model = self.model
        vocab = self.tok_to_id
        for piece in self.pre_tokenize(text):
            for t in model.tokenize(piece):
                out.append(vocab[t])

    def encode(self, text, add_special_tokens=True):
        """text -> token ids; add_special_tokens applies the post-processor's
        template (Llama 3.1: BOS first)."""
        if not isinstance(text, str):
            raise KitError(f"encode: expected a str, got {type(text).__name__}")
        ids = []
        for section, tok in self.raw_splitter.split(text):
            if tok is not None:
                ids.append(tok.id)
                continue
            if self.normalizer is not None:
                section = self.normalizer(section)
            for sub, tok2 in self.norm_splitter.split(section):
                if tok2 is not None:
                    ids.append(tok2.id)
                else:
                    self._encode_plain(sub, ids)
        if add_special_tokens and self.template is not None:
            pre, post = self.template
            ids = pre + ids + post
        return ids

    def decode(self, ids, skip_special_tokens=False):
        """ids -> text. Ids the tokenizer does not know are skipped."""
        out = []
        run = []

        def flush():
            if run:
                data = bytes(BYTE_DECODER.get(c, 0) for c in "".join(run))
                out.append(data.decode("utf-8", "replace"))
                run.clear()
        for i in ids:
            i = int(i)
            tok = self.id_to_tok.get(i)
            if tok is None:
                continue
            if skip_special_tokens and i in self.special_ids:
                continue
            if i in self.added_ids or not self.byte_level_decoder:
                flush()
                out.append(tok)
            else:
                run.append(tok)
        flush()
        text = "".join(out) if self.byte_level_decoder else " ".join(out)
        if self.clean_up_tokenization_spaces:
            text = clean_up_tokenization(text)
        return text


def clean_up_tokenization(text):
    """transformers' clean_up_tokenization: removes the space before
    punctuation and English contractions."""
    for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                 (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        text = text.replace(a, b)
    return text
