"""Test strings for the tokenizer comparisons (tests/llm/test_tokenizer.py,
test_bpe_train.py): a seeded generator, no downloads. Categories:

  instructions  Alpaca-style instructions and answers built from word lists
  unicode       CJK, kana, hangul, emoji (ZWJ sequences, skin tones, flags,
                keycaps, variation selectors), combining marks (composed and
                decomposed, so NFC matters), NBSP, ZWSP, RTL scripts and marks
  digits        digit runs of every length, grouped, decimal, signed, mixed
  contractions  's 't 're 've 'm 'll 'd in every letter case, curly quotes
  whitespace    runs of spaces, tabs, \\n, \\r\\n, \\r, \\v, \\f, U+3000, U+2028,
                U+0085, U+001C, leading and trailing
  special       the family's added tokens inside text, near whitespace, cut
                short, doubled, and other families' tokens as plain text
  fuzz          random mixtures of all the pools above
  long          a few inputs of 3-20 KB (long pre-tokens and runs)
plus the empty string and single characters.

Every character used is assigned in Unicode 14.0 (Python's unicodedata
here); see the tokenizer module's note on newer characters.
"""
import random

VERBS = ["Write", "Explain", "Describe", "Summarize", "List", "Give", "Generate", "Create", "Translate",
         "Classify", "Rewrite", "Compare", "Suggest", "Identify", "Outline", "Compose", "Edit", "Analyze",
         "Find", "Calculate", "Name", "Design", "Convert", "Predict", "Evaluate", "Brainstorm", "Tell"]
OBJECTS = ["a short story", "a poem", "three tips", "five reasons", "an email", "a haiku", "a summary",
           "a recipe", "a list of ideas", "a tweet", "a product description", "a cover letter", "an essay",
           "a dialogue", "two examples", "a slogan", "a limerick", "a news headline", "a paragraph",
           "step-by-step instructions", "a definition", "a metaphor", "an analogy", "a riddle"]
TOPICS = ["climate change", "the French Revolution", "photosynthesis", "machine learning", "healthy eating",
          "the water cycle", "quantum computing", "time management", "the stock market", "renewable energy",
          "a rainy day in London", "the history of jazz", "black holes", "social media", "remote work",
          "the Pythagorean theorem", "coffee", "World War II", "the human brain", "electric cars",
          "Shakespeare's Hamlet", "blockchain", "the Great Wall of China", "volcanoes", "DNA replication",
          "friendship", "the Olympics", "recycling", "artificial intelligence", "New York City"]
AUDIENCES = ["for a five-year-old", "for a high school student", "in simple terms", "in under 50 words",
             "in a formal tone", "for experts", "using bullet points", "in Spanish", "with an example",
             "in the style of a pirate", "as a JSON object", "in 3 sentences", "", "", ""]
QUESTIONS = ["What is the capital of {c}?", "How many legs does a {a} have?", "Why is the sky blue?",
             "Who wrote {b}?", "What's the difference between {x} and {y}?", "Can you help me with {t}?",
             "Is it true that {t} affects {u}?", "How do I cook {f}?", "When did {e} happen?",
             "Which is larger: {n1} or {n2}?", "What does \"{w}\" mean?", "How long does it take to {v}?"]
FILL = {
    "c": ["France", "Japan", "Brazil", "Kenya", "Australia", "Canada", "Peru", "Norway", "Egypt"],
    "a": ["spider", "cat", "centipede", "bird", "horse", "octopus", "beetle"],
    "b": ["Pride and Prejudice", "1984", "Don Quixote", "The Odyssey", "Moby-Dick", "Les Misérables"],
    "x": ["weather", "affect", "a virus", "RAM", "a simile", "TCP"],
    "y": ["climate", "effect", "bacteria", "ROM", "a metaphor", "UDP"],
    "f": ["rice", "pasta al dente", "a soft-boiled egg", "quinoa", "crème brûlée"],
    "e": ["the Moon landing", "the fall of Rome", "the Renaissance", "the invention of the printing press"],
    "w": ["serendipity", "ephemeral", "ubiquitous", "schadenfreude", "déjà vu", "naïve"],
    "v": ["learn Python", "run a marathon", "bake bread", "read War and Peace", "travel to Mars"],
}
ANSWER_BITS = ["Sure! Here's", "Certainly.", "I'm sorry, but I can't help with that.", "I cannot do that.",
               "Here are some ideas:", "1. First,", "2. Then,", "- Step one:", "**Note:**", "In summary,",
               "As an AI language model, I don't have", "Great question!", "Let's think step by step.",
               "The answer is 42.", "```python\nprint('hello')\n```", "e.g.", "i.e.,", "etc.", "(see above)",
               "Dr. Smith's", "U.S.A.", "I'd", "we'll", "they've", "you're", "isn't", "won't", "O'Neill"]

CJK = ["你好，世界！", "我喜欢学习机器学习。", "今天天气很好，我们去公园散步吧。", "人工智能正在改变世界",
       "東京タワーはとても高いです。", "ありがとうございます", "カタカナとひらがな", "한국어를 공부하고 있어요.",
       "안녕하세요", "中文標點符號：「引號」、《書名》", "漢字かな混じり文", "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ１２３",
       "半角ｶﾀｶﾅ", "㍿㌔", "𠀋𡈽𡌛"]
EMOJI = ["😀", "😂🤣", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸🇯🇵", "1️⃣", "❤️", "🧑🏿‍🚀", "🐍", "🎉🎊",
         "👁️‍🗨️", "🏴‍☠️", "✌🏻", "🤷‍♀️", "☕", "©️", "™", "🫠"]
COMBINING = ["e\u0301", "é", "a\u0308", "ä", "n\u0303o", "ñ", "o\u0302\u0323", "ộ", "Å", "A\u030a", "\u212b",
             "ﬁ", "ǅ", "ẞ", "ß", "İ", "ı", "Ω", "\u2126", "한", "\u1112\u1161\u11ab", "क्षि", "ก์", "z\u0336"]
RTL = ["مرحبا بالعالم", "שלום עולם", "\u200fמימין לשמאל\u200f", "العربية ١٢٣", "\u202bembedded\u202c",
       "فارسی ۴۵۶", "اُردو", "‏Hello‏"]
OTHER_SCRIPTS = ["Привет, мир!", "Γειά σου Κόσμε", "नमस्ते दुनिया", "สวัสดีชาวโลก", "Xin chào thế giới",
                 "Ελληνικά", "ſtraße", "\u212aelvin", "Ærøskøbing", "Łódź", "Ğüçlü", "ქართული", "Հայերեն",
                 "∑∫√∞≠≈", "→⇒↔", "①②③", "ⅠⅡⅢⅣ", "½¾", "x²+y³", "₀₁₂", "°C", "€100", "£5", "¥1000", "₹50"]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u200b", "\u3000", "\u2028", "\u2029", "\x85",
          "\x0b", "\x0c", "\x1c", "\u2009", "\u202f", "\ufeff", "\u180e", "\u200d", "\u2060", " \n", "\n\n", "\t\t"]
CONTRACTION_TAILS = ["s", "t", "re", "ve", "m", "ll", "d"]
# look-alikes that Unicode case folding (but not ASCII folding) turns into a
# contraction letter: U+017F long s, U+212A Kelvin sign
FOLD_TAILS = ["\u017f", "\u017ftraße", "\u212a"]
PUNCT = list(".,;:!?-—–…()[]{}<>/\\|@#$%^&*_+=~`\"'") + ["''", "``", "--", "...", "?!", "://", "->", "=>", "<=",
                                                       "&&", "||", "«", "»", "“", "”", "‘", "’", "¿", "¡"]
WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Hello", "WORLD", "data", "model",
         "token", "Ünïcödé", "naïve", "café", "résumé", "coöperate", "API", "JSON", "HTTP", "iPhone", "eBay",
         "McDonald", "x", "I", "a", "ok", "OK", "tl;dr", "can't", "won't", "USERNAME", "snake_case",
         "camelCase", "kebab-case", "file.txt", "https://example.com/a?b=c&d=e", "user@example.com"]


def _fill(q, rng):
    out = q
    for k, vals in FILL.items():
        out = out.replace("{" + k + "}", rng.choice(vals))
    for k in ("t", "u"):
        out = out.replace("{" + k + "}", rng.choice(TOPICS))
    out = out.replace("{n1}", str(rng.randint(0, 10 ** 6))).replace("{n2}", f"{rng.uniform(0, 1000):.3f}")
    return out


def instructions(rng, n):
    out = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            aud = rng.choice(AUDIENCES)
            s = f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} about {rng.choice(TOPICS)}" + (f" {aud}" if aud else "") + "."
        elif kind == 1:
            s = _fill(rng.choice(QUESTIONS), rng)
        elif kind == 2:
            s = (f"{rng.choice(VERBS)} the following text {rng.choice(AUDIENCES) or 'carefully'}:\n\n"
                 f"\"{_fill(rng.choice(QUESTIONS), rng)} {rng.choice(ANSWER_BITS)}\"")
        elif kind == 3:
            s = " ".join(rng.choice(ANSWER_BITS) for _ in range(rng.randint(1, 5)))
        else:
            s = (f"### Instruction:\n{rng.choice(VERBS)} {rng.choice(OBJECTS)} on {rng.choice(TOPICS)}.\n\n"
                 f"### Input:\n{_fill(rng.choice(QUESTIONS), rng)}\n\n### Response:\n{rng.choice(ANSWER_BITS)}")
        if rng.random() < 0.1:
            s = s.upper()
        elif rng.random() < 0.1:
            s = s.lower()
        out.append(s)
    return out


def unicode_strings(rng, n):
    pools = [CJK, EMOJI, COMBINING, RTL, OTHER_SCRIPTS]
    out = []
    for i in range(n):
        parts = []
        for _ in range(rng.randint(1, 6)):
            r = rng.random()
            if r < 0.6:
                parts.append(rng.choice(rng.choice(pools)))
            elif r < 0.8:
                parts.append(rng.choice(WORDS))
            else:
                parts.append(rng.choice(PUNCT))
            parts.append(rng.choice(["", " ", " ", rng.choice(SPACES)]))
        out.append("".join(parts))
    return out


def digit_strings(rng, n):
    out = []
    for i in range(n):
        k = i % 8
        if k == 0:
            s = "".join(rng.choice("0123456789") for _ in range(1 + i % 41))
        elif k == 1:
            s = f"{rng.randint(0, 10 ** 12):,}"
        elif k == 2:
            s = f"{rng.uniform(-1e6, 1e6):.{rng.randint(0, 9)}f}"
        elif k == 3:
            s = f"{rng.randint(1, 31)}/{rng.randint(1, 12)}/{rng.randint(1900, 2100)} at {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
        elif k == 4:
            s = f"v{rng.randint(0, 9)}.{rng.randint(0, 99)}.{rng.randint(0, 999)}-rc{rng.randint(1, 9)}"
        elif k == 5:
            s = " ".join(str(rng.randint(0, 10 ** rng.randint(1, 9))) for _ in range(rng.randint(2, 6)))
        elif k == 6:
            s = "".join(rng.choice(["1", "22", "333", "4444", "a", "B", " ", "٣", "७", "๓", "①", "½", "²", "Ⅻ"])
                        for _ in range(rng.randint(3, 20)))
        else:
            s = f"+1 ({rng.randint(100, 999)}) {rng.randint(100, 999)}-{rng.randint(1000, 9999)}; 0x{rng.randint(0, 2 ** 32):X}; 1e{rng.randint(-20, 20)}"
        out.append(s)
    return out


def contraction_strings(rng, n):
    out = []
    subjects = ["it", "IT", "It", "he", "She", "WE", "they", "you", "I", "John", "JOHN", "x", "1", " ", ""]
    for i in range(n):
        tail = rng.choice(CONTRACTION_TAILS if i % 10 else FOLD_TAILS)
        case = rng.choice([str.lower, str.upper, str.title, lambda s: s[:1].lower() + s[1:].upper()])
        q = rng.choice(["'", "'", "'", "’", "‘", "''"])
        s = f"{rng.choice(subjects)}{q}{case(tail)}"
        if rng.random() < 0.6:
            s += rng.choice([" ", "", "\n", "."]) + rng.choice(WORDS) + rng.choice(["'" + case(rng.choice(CONTRACTION_TAILS)), "", "'"])
        if rng.random() < 0.3:
            s = rng.choice(["don't", "DON'T", "I'LL", "we'Ve", "it'S", "y'all", "'tis", "rock 'n' roll"]) + " " + s
        out.append(s)
    return out


def whitespace_strings(rng, n):
    out = []
    for i in range(n):
        parts = []
        for _ in range(rng.randint(1, 8)):
            if rng.random() < 0.5:
                parts.append("".join(rng.choice(SPACES) for _ in range(rng.randint(1, 6))))
            else:
                parts.append(rng.choice(WORDS + PUNCT + ["123", "4567", "é", "中文"]))
        out.append("".join(parts))
    return out


def special_strings(rng, n, specials, foreign):
    out = []
    for i in range(n):
        parts = []
        for _ in range(rng.randint(1, 6)):
            r = rng.random()
            if r < 0.4:
                parts.append(rng.choice(specials))
            elif r < 0.5:
                t = rng.choice(specials)
                parts.append(t[:rng.randint(1, max(1, len(t) - 1))])  # cut short
            elif r < 0.6:
                parts.append(rng.choice(foreign))
            elif r < 0.8:
                parts.append(rng.choice(SPACES))
            else:
                parts.append(rng.choice(WORDS + ANSWER_BITS))
        out.append("".join(parts))
    return out


def fuzz_strings(rng, n, specials):
    pool = CJK + EMOJI + COMBINING + RTL + OTHER_SCRIPTS + SPACES + PUNCT + WORDS + specials + ["0", "12", "345"]
    out = []
    for i in range(n):
        s = "".join(rng.choice(pool) for _ in range(rng.randint(1, 12)))
        if rng.random() < 0.3:  # cut inside a grapheme, a ZWJ sequence or a token
            s = s[rng.randint(0, len(s)):]
        out.append(s)
    return out


def long_strings(rng):
    """A few long inputs: a CJK run without spaces (one long pre-token), a
    digit run, whitespace runs, one letter repeated, and a page of prose."""
    return ["".join(rng.choice(CJK) for _ in range(300)).replace("，", "").replace("。", ""),
            "".join(rng.choice("0123456789") for _ in range(3000)),
            " " * 2000 + "x" + "\n \t" * 500 + "\r\n" * 300,
            "a" * 3000 + "A" * 1000,
            " ".join(instructions(rng, 150)),
            "".join(rng.choice(EMOJI) for _ in range(500))]


def singles():
    chars = [chr(c) for c in range(0x20, 0x7f)] + ["\t", "\n", "\r", "\x00", "\x7f", "\xa0", "é", "中", "😀"]
    return [""] + chars


def all_cases(seed, specials, foreign, n_instr=1000, n_each=220):
    """-> list of (category, string). `specials`: the family's added-token
    texts; `foreign`: another family's, which must encode as plain text."""
    rng = random.Random(seed)
    cases = [("instructions", s) for s in instructions(rng, n_instr)]
    cases += [("unicode", s) for s in unicode_strings(rng, n_each)]
    cases += [("digits", s) for s in digit_strings(rng, n_each)]
    cases += [("contractions", s) for s in contraction_strings(rng, n_each)]
    cases += [("whitespace", s) for s in whitespace_strings(rng, n_each)]
    cases += [("special", s) for s in special_strings(rng, n_each, specials, foreign)]
    cases += [("fuzz", s) for s in fuzz_strings(rng, n_each, specials)]
    cases += [("single", s) for s in singles()]
    cases += [("long", s) for s in long_strings(rng)]
    # lone surrogates: a Python str (and a JS string) can hold them
    cases += [("surrogate", s) for s in ["\ud800", "a\udc00b", "x \ud83d", "\ude00 tail", "é\ud800\u0301"]]
    return cases
