#!/usr/bin/env python3
"""Generate reference fixtures for SmolLM2-135M-Instruct with llama-cpp-python.

Writes into tests/fixtures/smollm2/ (or --out):
  tokenize_corpus.json  tokenizer reference (vocab only, Q4_1 GGUF)
  logits_f32.json       teacher-forced logits on the F32 GGUF
  greedy_f32.json       64-token greedy continuations on the F32 GGUF
  greedy_q41.json       64-token greedy continuations on the Q4_1 GGUF

Everything is deterministic: the corpus and the prompts are built in this
file, the sampled vocab ids come from a fixed seed, and inference runs on
the CPU with a fixed thread count. Schemas: docs/REFERENCE.md.

Usage:
  scripts/fetch_model.sh --f32
  python3 scripts/reference/gen_fixtures.py [--only tokenize,logits,greedy]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

import numpy as np

try:
    import llama_cpp
    from llama_cpp import Llama
except ImportError as e:  # pragma: no cover
    sys.exit(f"error: llama-cpp-python is required (pip install llama-cpp-python): {e}")

REPO = Path(__file__).resolve().parents[2]
Q41_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
F32_NAME = "SmolLM2-135M-Instruct.F32.gguf"

N_THREADS = 2
N_CTX = 1024
N_BATCH = 1024
TOP_K = 20
N_SAMPLED = 256
SAMPLED_SEED = 20250207
CORPUS_SEED = 1234
GREEDY_TOKENS = 64
ROUND = 5

RUN_PARAMS = {
    "n_ctx": N_CTX,
    "n_batch": N_BATCH,
    "n_ubatch": N_BATCH,
    "n_threads": N_THREADS,
    "n_gpu_layers": 0,
    "logits_all": True,
    "flash_attn": False,
    # float32 KV cache (GGML_TYPE_F32 = 0): llama.cpp's default f16 cache adds
    # ~0.04 of logit noise that would hide real differences.
    "type_k": 0,
    "type_v": 0,
    "use_extra_bufts": False,  # model param, see load_model()
}


# ---------------------------------------------------------------------------
# Tokenizer corpus
# ---------------------------------------------------------------------------

def corpus_strings() -> list[str]:
    s: list[str] = []

    # Empty, single characters, repeated characters.
    s += ["", " ", "a", "A", "z", "0", "9", ".", ",", "!", "?", "'", '"', "\n", "\t", "\r",
          "é", "ß", "中", "あ", "한", "ع", "😀", "€", "\\", "~", "`", "@", "#", "_"]
    s += ["aaaa", "a" * 64, "ab" * 40, "=" * 80, "-" * 33, "!!!!!!!!", "?!?!?!", "...", "…",
          "zzzzzzzzzzzzzzzzzzzzzz", "1" * 50, "0" * 17, "😀😀😀😀", "中中中中中中", "\n" * 12,
          " " * 3, " " * 16, "\t" * 7, "..........", "ababababab abababab"]

    # English prose and punctuation.
    s += [
        "Hello world",
        "Hello, world!",
        " Hello world",
        "hello world ",
        "HELLO WORLD",
        "The quick brown fox jumps over the lazy dog.",
        "The capital of France is Paris.",
        "Once upon a time, in a land far, far away, there lived a small dragon who loved to read books.",
        "It was the best of times, it was the worst of times; it was the age of wisdom...",
        "Dr. Smith's office (room 4B) opens at 9:30 a.m. -- don't be late!",
        "Wait... what?! No way!!! Are you serious???",
        "\"Quoted text,\" she said, 'and single quotes too.'",
        "Semi;colons: colons, dashes - en–dashes – em—dashes — and so on.",
        "E-mail me at john.doe@example.com or call +1 (555) 123-4567.",
        "Mr. and Mrs. O'Neil visited St. Louis, MO, U.S.A. in Jan. 2020.",
        "state-of-the-art, well-known, mother-in-law, re-enter",
        "  leading spaces and trailing spaces  ",
        "CamelCaseWordsAndSnake_case_words and kebab-case-words",
        "ALL CAPS SENTENCE WITH NUMBERS 123 AND SYMBOLS #$%",
        "Supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    ]

    # Contractions.
    s += [
        "It's John's book.",
        "they're here, we're there, you're everywhere",
        "I'll go, she'll stay, we'll see",
        "I've done it; you'd better not; I'm sure",
        "don't can't won't shouldn't wouldn't isn't aren't",
        "IT'S LOUD, THEY'RE LOUD, WE'LL SEE, I'VE HEARD, YOU'D KNOW, I'M HERE",
        "It’s curly ’s and ’re and ’ll (U+2019)",
        "rock 'n' roll, 'tis, y'all, ma'am, o'clock",
        "'s 're 'll 've 'd 'm 't",
        "the dogs' bones and the dog's bone",
    ]

    # Code.
    s += [
        "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
        "import numpy as np\nx = np.zeros((3, 4), dtype=np.float32)\nprint(x.shape)",
        "class Foo(Base):\n    \"\"\"Docstring.\"\"\"\n\n    def __init__(self, *args, **kwargs):\n        super().__init__(*args, **kwargs)\n",
        "for i in range(10):\n\tprint(f\"{i:>4d} -> {i**2}\")",
        "lambda x: x if x else None  # comment",
        "#include <iostream>\n\nint main() {\n    std::cout << \"Hello\" << std::endl;\n    return 0;\n}\n",
        "template <typename T>\nstd::vector<T> v{1, 2, 3};\nauto it = v.begin(); ++it;",
        "int* p = &x; p->y = nullptr; a[i] <<= 2; b >>= 3; c != d && e || !f;",
        "static_assert(sizeof(int) == 4, \"int must be 32 bits\");",
        "{\"name\": \"skipjoin\", \"version\": 1, \"tags\": [\"a\", \"b\"], \"nested\": {\"x\": null, \"y\": true}}",
        "[{\"id\":1,\"v\":-0.5e-3},{\"id\":2,\"v\":1.25E+10}]",
        "#!/usr/bin/env bash\nset -euo pipefail\nfor f in *.txt; do echo \"$f\"; done | sort -u > out.log 2>&1",
        "ls -la ~/.cache && grep -rn 'TODO' src/ | wc -l",
        "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC LIMIT 10;",
        "<html><body><div class=\"x\">Hi &amp; bye</div></body></html>",
        "fn main() { let v: Vec<u32> = (0..10).map(|x| x * 2).collect(); }",
        "const f = async (a, b) => { await g(a ?? b); return `${a}-${b}`; };",
        "    indented four\n        indented eight\n\t\ttabbed twice",
        "x=1;y=2;z=x+y*3/4-5%6^7",
        "# Markdown Title\n\n- item 1\n- item 2\n\n```python\nprint('hi')\n```\n",
    ]

    # CJK, Arabic, other scripts.
    s += [
        "人工智能是计算机科学的一个分支。",
        "你好，世界！今天天气很好。",
        "我爱北京天安门",
        "機械学習は人工知能の一分野です。",
        "こんにちは、世界！カタカナとひらがな。",
        "東京タワーは333メートルです",
        "안녕하세요, 세계! 한국어 문장입니다.",
        "대한민국의 수도는 서울입니다",
        "مرحبا بالعالم! هذه جملة عربية.",
        "اللغة العربية جميلة",
        "שלום עולם",
        "Привет, мир! Как дела?",
        "Ελληνικά γράμματα: αβγδε",
        "नमस्ते दुनिया",
        "สวัสดีชาวโลก",
        "Tiếng Việt có dấu: Xin chào thế giới",
        "English mixed with 中文 and 日本語 and 한국어 in one line.",
        "Français: à la carte, déjà vu, naïve, façade, cœur",
        "Deutsch: Größe, Übermäßig, Straße, Äpfel",
        "Español: ¿Dónde está la biblioteca? ¡Ñandú!",
        "全角文字：ＡＢＣ１２３！",
        "中文标点：“引号”、《书名》、【括号】……",
    ]

    # Emoji, ZWJ sequences, flags, skin tones, variation selectors.
    s += [
        "I love 🍕 and 🎉!",
        "👨‍👩‍👧‍👦",
        "family: 👨‍👩‍👧‍👦 👩‍❤️‍👨 🧑‍💻",
        "🇺🇸🇫🇷🇯🇵🇨🇳🇩🇪",
        "flags 🇬🇧 and 🏴‍☠️ and 🏳️‍🌈",
        "👍🏻👍🏼👍🏽👍🏾👍🏿",
        "❤️ ❤ ☺️ ☺ ✔️",
        "1️⃣ 2️⃣ #️⃣ *️⃣",
        "🤖🚀✨🔥💯",
        "emoji at end 😂",
        "😂emoji at start",
        "mixed😀text😀without😀spaces",
    ]

    # Combining accents, normalization forms, invisible characters.
    s += [
        "e\u0301",
        "cafe\u0301 vs caf\u00e9",
        "n\u0303 a\u0308 o\u0302 u\u0300",
        "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319alg\u0332o",
        "zero\u200bwidth\u200bspace",
        "non\u00a0breaking\u00a0space",
        "\ufeffBOM at start",
        "soft\u00adhyphen",
        "right-to-left \u202emark\u202c here",
        "ligature ﬁ ﬂ and ½ ² ℃ ™",
        "math: ∀x∈ℝ, x² ≥ 0; ∑ᵢ aᵢ ≤ ∞",
        "box drawing ┌─┐│└┘ and arrows ←↑→↓",
    ]

    # Whitespace runs.
    s += [
        "a  b",
        "a   b",
        "a    b",
        "a" + " " * 20 + "b",
        "a" + " " * 100 + "b",
        " " * 40,
        "\t\t\t\tx",
        "x\t\t\t\t",
        "a\n\nb",
        "a\n\n\n\n\n\nb",
        "\n\n\n",
        "line1\r\nline2\r\nline3",
        " \n \n \n",
        " \t \t\n\n  \t",
        "word \n\t  \n   word",
        "trailing newline\n",
        "  \n  x",
        "a \u3000 b",
        "many\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\nnewlines",
        "x" + " \t" * 30 + "y",
    ]

    # Digits, numbers.
    s += [
        "123",
        "1234",
        "12345",
        "123456789",
        "3.14159265358979323846",
        "1,000,000",
        "1 000 000",
        "-42",
        "+7.5e-10",
        "0x1F 0b1010 0o777",
        "2024-01-15T10:30:00Z",
        "v1.2.3-rc.4+build.5",
        "12345678901234567890123456789012345678901234567890",
        "Room 101, 2nd floor, 3rd door, 21st century",
        "$1,234.56 and €99,99 and ¥1000",
        "99.9% of 1/3 is ~33.3%",
        "٠١٢٣٤٥٦٧٨٩",
        "一二三四五 and 12345",
    ]

    # URLs and paths.
    s += [
        "https://www.example.com/path/to/page?query=1&other=two#section",
        "http://localhost:8080/api/v1/generate",
        "ftp://user:pass@host.example.org:21/file.tar.gz",
        "Visit https://github.com/huggingface/transformers for more.",
        "/usr/local/lib/python3.11/site-packages/numpy/__init__.py",
        "C:\\Users\\Admin\\Documents\\file.txt",
        "mailto:someone@example.com?subject=Hello%20World",
        "www.example.co.uk/a-b_c.d~e",
    ]

    # Special-token text (tokenized both with parse_special true and false).
    s += [
        "<|im_start|>user\nhi<|im_end|>",
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
        "<|im_start|>",
        "<|im_end|>",
        "<|endoftext|>",
        "<|endoftext|>Hello<|endoftext|>",
        "text before <|im_end|> text after",
        "<|im_start|><|im_end|><|im_start|>",
        "<|im_start |>",
        "< |im_start|>",
        "<|IM_START|>",
        "<|im_start|>assistant\n",
        "<repo_name>skipjoin<file_sep>main.cpp",
        "<|unknown_token|>",
        "<s></s><unk><pad>",
    ]

    # Deterministic pseudo-random mixtures (fixed seed).
    rng = random.Random(CORPUS_SEED)
    pools = [
        "abcdefghijklmnopqrstuvwxyz",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "0123456789",
        " \t\n",
        ".,;:!?'\"()[]{}<>/\\|-_=+*&^%$#@~`",
        "的一是不了人我在有他这中大来上",
        "あいうえおカキクケコ",
        "가나다라마바사",
        "éèêëàâäôöûüçñ",
        "😀🎉🍕🚀❤️👍🏽🇯🇵",
    ]
    for n in range(40):
        length = rng.randint(1, 48)
        k = rng.randint(1, 4)
        chosen = rng.sample(pools, k)
        s.append("".join(rng.choice(rng.choice(chosen)) for _ in range(length)))
    words = ["the", "model", "token", "skip", "join", "cache", "batch", "’s", "'re", "'ll",
             "GPU", "kernel", "123", "  ", "\n", "数据", "テスト", "🚀", "don't", "e\u0301"]
    for n in range(20):
        s.append(" ".join(rng.choice(words) for _ in range(rng.randint(2, 25))))

    return s


def special_variants(text: str, index: int) -> list[tuple[bool, bool]]:
    """Which (add_special, parse_special) combinations to record for text."""
    combos = [(False, False)]
    if "<" in text and ">" in text:
        combos = [(False, False), (False, True), (True, False), (True, True)]
    elif index % 5 == 0:
        combos.append((True, False))
    if index % 7 == 0 and (False, True) not in combos:
        combos.append((False, True))
    return combos


def gen_tokenize(q41: str, out: Path) -> None:
    vocab = Llama(model_path=q41, vocab_only=True, verbose=False)
    detok = Detokenizer(q41)
    texts = corpus_strings()
    if len(texts) != len(set(texts)):
        dup = sorted({t for t in texts if texts.count(t) > 1})
        raise SystemExit(f"duplicate corpus strings: {dup!r}")
    cases = []
    for i, text in enumerate(texts):
        for add_special, parse_special in special_variants(text, i):
            ids = vocab.tokenize(text.encode("utf-8"), add_bos=add_special, special=parse_special)
            if detok(ids) != text.encode("utf-8"):
                raise SystemExit(f"detokenize round trip failed for {text!r}")
            cases.append({"text": text, "add_special": add_special,
                          "parse_special": parse_special, "ids": [int(t) for t in ids]})
    doc = {
        "model": Q41_NAME,
        "llama_cpp_python": llama_cpp.__version__,
        "generator": "scripts/reference/gen_fixtures.py",
        "n_strings": len(texts),
        "n_cases": len(cases),
        "cases": cases,
    }
    write_json(out / "tokenize_corpus.json", doc, indent=1)
    print(f"tokenize_corpus.json: {len(texts)} strings, {len(cases)} cases", file=sys.stderr)


# ---------------------------------------------------------------------------
# Prompts for logits / greedy
# ---------------------------------------------------------------------------

CHATML_SYSTEM = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
                 "trained by Hugging Face<|im_end|>\n")

PROMPTS: list[tuple[str, str]] = [
    ("en_capital", "The capital of France is"),
    ("en_story", "Once upon a time, in a small village at the edge of a great forest, there lived a"),
    ("en_single", "Hello"),
    ("en_facts", "Water boils at 100 degrees Celsius at sea level. The chemical formula of water is"),
    ("code_python", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    if n < 2:\n"),
    ("code_cpp", "#include <vector>\n#include <algorithm>\n\nint main() {\n    std::vector<int> v = {5, 3, 1, 4};\n    std::sort("),
    ("code_json", "{\"name\": \"Alice\", \"age\": 30, \"languages\": [\"English\", \"French\"], \"address\": {\"city\": "),
    ("zh", "人工智能是计算机科学的一个分支，它的目标是"),
    ("ja_ko", "日本の首都は東京です。한국의 수도는"),
    ("emoji", "My favorite foods are 🍕, 🍣 and 🍩! My family 👨‍👩‍👧‍👦 loves 🇮🇹 food because"),
    ("whitespace", "x = 1\n\n\n\n        \t\t    y = 2" + " " * 24 + "\n\t\t\t\t\n" + "z ="),
    ("numbers", "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,"),
    ("chatml", CHATML_SYSTEM + "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"),
    ("chatml_multi", CHATML_SYSTEM
     + "<|im_start|>user\nHi! Can you help me write a haiku?<|im_end|>\n"
     + "<|im_start|>assistant\nOf course! What should the haiku be about?<|im_end|>\n"
     + "<|im_start|>user\nThe ocean at night.<|im_end|>\n<|im_start|>assistant\n"),
    ("long_prose",
     "The history of computing is a story of abstraction. Early machines were programmed by "
     "physically rewiring circuits, a tedious process that limited what could be attempted. "
     "The stored-program concept changed everything: instructions became data, and data could "
     "be manipulated by other programs. Assemblers gave way to compilers, compilers to "
     "high-level languages, and languages to entire ecosystems of libraries and tools. Each "
     "layer hid the complexity of the one beneath it, allowing programmers to think about "
     "problems rather than machines. Today, a single line of code can summon thousands of "
     "servers, train a neural network, or render a photorealistic scene. Yet beneath all of "
     "these layers, the fundamental operations remain the same: load, store, add, compare, "
     "and branch. Understanding this continuity is"),
]


def byte_decoder() -> dict[str, int]:
    """Inverse of the GPT-2 byte-to-unicode map used by byte-level BPE vocabularies."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) \
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


class Detokenizer:
    """Detokenize from the GGUF vocabulary directly. (llama-cpp-python
    0.3.x returns empty pieces for tokens longer than 32 bytes, e.g. the
    64-space and 64-'=' tokens of this vocabulary.)"""

    def __init__(self, gguf_path: str):
        import gguf
        reader = gguf.GGUFReader(gguf_path)
        self.tokens = reader.fields["tokenizer.ggml.tokens"].contents()
        self.types = reader.fields["tokenizer.ggml.token_type"].contents()
        self.dec = byte_decoder()

    def piece(self, tok: int) -> bytes:
        text = self.tokens[tok]
        if self.types[tok] in (3, 4):  # CONTROL / USER_DEFINED: literal text
            return text.encode("utf-8")
        return bytes(self.dec[ch] for ch in text)

    def __call__(self, ids: list[int]) -> bytes:
        return b"".join(self.piece(t) for t in ids)


def load_model(path: str) -> Llama:
    """Load a model with RUN_PARAMS and use_extra_bufts=False.

    Extra buffer types (CPU repack / AMX) are disabled: on AVX512+AMX CPUs
    the llama.cpp bundled with llama-cpp-python 0.3.36 crashes (SIGSEGV in
    libggml-cpu) on batched Q4_1 matmuls through the AMX buffer. F32 tensors
    never use these buffers, so the F32 fixtures do not depend on this.
    llama-cpp-python has no argument for it, so the default-params factory
    is wrapped while the model loads.
    """
    mod = llama_cpp.llama_cpp
    orig = mod.llama_model_default_params

    def params_without_extra_bufts():
        p = orig()
        if hasattr(p, "use_extra_bufts"):
            p.use_extra_bufts = False
        return p

    mod.llama_model_default_params = params_without_extra_bufts
    try:
        kw = {k: v for k, v in RUN_PARAMS.items() if k != "use_extra_bufts"}
        return Llama(model_path=path, verbose=False, seed=0, **kw)
    finally:
        mod.llama_model_default_params = orig


def tokenize_prompt(llm: Llama, text: str) -> list[int]:
    # parse_special=True so ChatML markers become their special ids;
    # add_special=True (this model's GGUF sets add_bos_token=false, so no BOS).
    return [int(t) for t in llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)]


def sampled_vocab_ids(n_vocab: int) -> list[int]:
    rng = np.random.default_rng(SAMPLED_SEED)
    ids = rng.choice(n_vocab, size=N_SAMPLED, replace=False)
    return sorted(int(i) for i in ids)


def r(x: float) -> float:
    return round(float(x), ROUND)


def topk_pairs(row: np.ndarray, k: int) -> list[list]:
    # Sort by logit descending, ties by id ascending.
    idx = np.lexsort((np.arange(row.shape[0]), -row.astype(np.float64)))[:k]
    return [[int(i), r(row[i])] for i in idx]


def gen_logits(f32: str, out: Path) -> None:
    llm = load_model(f32)
    n_vocab = llm.n_vocab()
    sampled = sampled_vocab_ids(n_vocab)
    sampled_np = np.array(sampled)
    prompts = []
    for name, text in PROMPTS:
        ids = tokenize_prompt(llm, text)
        assert 0 < len(ids) <= N_BATCH, (name, len(ids))
        llm.reset()
        llm.eval(ids)
        scores = np.array(llm.scores[: len(ids)], dtype=np.float32)
        positions = []
        for p in range(len(ids)):
            row = scores[p]
            m = float(row.max())
            lse = m + float(np.log(np.exp((row - m).astype(np.float64)).sum()))
            positions.append({
                "top1": int(np.argmax(row)),
                "top20": topk_pairs(row, TOP_K),
                "sampled": [r(v) for v in row[sampled_np]],
                "logsumexp": r(lse),
            })
        prompts.append({"name": name, "text": text, "parse_special": True,
                        "ids": ids, "positions": positions})
        print(f"  logits {name}: {len(ids)} tokens", file=sys.stderr)
    doc = {
        "model": F32_NAME,
        "llama_cpp_python": llama_cpp.__version__,
        "generator": "scripts/reference/gen_fixtures.py",
        "params": RUN_PARAMS,
        "n_vocab": n_vocab,
        "top_k": TOP_K,
        "sampled_seed": SAMPLED_SEED,
        "sampled_ids": sampled,
        "round_decimals": ROUND,
        "prompts": prompts,
    }
    write_json(out / "logits_f32.json", doc, indent=None)
    print(f"logits_f32.json: {len(prompts)} prompts, "
          f"{sum(len(p['ids']) for p in prompts)} positions", file=sys.stderr)


GREEDY_SAMPLER = dict(top_k=1, top_p=1.0, min_p=0.0, typical_p=1.0, temp=0.0,
                      repeat_penalty=1.0, frequency_penalty=0.0, presence_penalty=0.0)


def greedy_one(llm: Llama, ids: list[int], eos: int) -> dict:
    """Greedy decoding by argmax over the raw logits (ties -> lowest id).
    At every step the choice is cross-checked against llama-cpp-python's own
    sampler chain with greedy settings and all default penalties disabled."""
    llm.reset()
    llm.eval(ids)
    out: list[int] = []
    margins: list[float] = []
    stopped = False
    sampler_agrees = True
    while len(out) < GREEDY_TOKENS:
        row = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        top2 = np.lexsort((np.arange(row.shape[0]), -row.astype(np.float64)))[:2]
        tok = int(top2[0])
        if int(llm.sample(**GREEDY_SAMPLER)) != tok:
            sampler_agrees = False
        out.append(tok)
        margins.append(r(row[top2[0]] - row[top2[1]]))
        if tok == eos:
            stopped = True
            break
        llm.eval([tok])
    return {"output_ids": out, "margins": margins, "stopped_at_eos": stopped,
            "sampler_agrees": sampler_agrees}


def gen_greedy(model_path: str, model_name: str, out_file: Path) -> None:
    llm = load_model(model_path)
    eos = int(llm.token_eos())
    detok = Detokenizer(model_path)
    prompts = []
    for name, text in PROMPTS:
        ids = tokenize_prompt(llm, text)
        res = greedy_one(llm, ids, eos)
        if not res["sampler_agrees"]:
            print(f"  warning: {model_name} {name}: llama-cpp-python sampler disagrees with argmax loop",
                  file=sys.stderr)
        prompts.append({"name": name, "text": text, "parse_special": True, "ids": ids,
                        "n_generate": GREEDY_TOKENS, **res,
                        "output_text": detok(res["output_ids"]).decode("utf-8", "replace")})
        print(f"  greedy {model_name} {name}: {len(res['output_ids'])} tokens"
              f"{' (eos)' if res['stopped_at_eos'] else ''}", file=sys.stderr)
    doc = {
        "model": model_name,
        "llama_cpp_python": llama_cpp.__version__,
        "generator": "scripts/reference/gen_fixtures.py",
        "params": RUN_PARAMS,
        "sampling": {"method": "argmax (ties -> lowest id)", "temperature": 0.0, "top_k": 1,
                     "top_p": 1.0, "min_p": 0.0, "repeat_penalty": 1.0,
                     "frequency_penalty": 0.0, "presence_penalty": 0.0},
        "eos_id": eos,
        "prompts": prompts,
    }
    write_json(out_file, doc, indent=1)


def write_json(path: Path, doc: dict, indent: int | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        if indent is None:
            json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
        else:
            json.dump(doc, f, ensure_ascii=False, indent=indent)
        f.write("\n")
    os.replace(tmp, path)


def main() -> int:
    cache = Path(os.environ.get("SKIPJOIN_CACHE", Path.home() / ".cache" / "skipjoin")) / "models"
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--q41", default=str(cache / Q41_NAME), help="Q4_1 GGUF path")
    ap.add_argument("--f32", default=str(cache / F32_NAME), help="F32 GGUF path")
    ap.add_argument("--out", default=str(REPO / "tests" / "fixtures" / "smollm2"))
    ap.add_argument("--threads", type=int, default=N_THREADS,
                    help="CPU threads (default 2; results do not depend on it, but a "
                         "busy machine runs much faster with 1)")
    ap.add_argument("--only", default="tokenize,logits,greedy",
                    help="comma list of: tokenize, logits, greedy")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    RUN_PARAMS["n_threads"] = args.threads
    out = Path(args.out)
    for p, need in ((args.q41, True), (args.f32, bool(parts & {"logits", "greedy"}))):
        if need and not os.path.isfile(p):
            print(f"error: model not found: {p} (run scripts/fetch_model.sh --f32)", file=sys.stderr)
            return 1
    print(f"llama-cpp-python {llama_cpp.__version__}", file=sys.stderr)
    if "tokenize" in parts:
        gen_tokenize(args.q41, out)
    if "logits" in parts:
        gen_logits(args.f32, out)
    if "greedy" in parts:
        gen_greedy(args.f32, F32_NAME, out / "greedy_f32.json")
        gen_greedy(args.q41, Q41_NAME, out / "greedy_q41.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
