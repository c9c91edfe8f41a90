"""The speech recipe's English: real sentences from Debian's text packages (`speech_text_sources`) and generated
numbers, dates, times, names and commands (`speech_generated`), in the form a transcriber writes.

That form is `speech_corpus`'s: the words `normalise()` keeps, numbers in words, a capital first letter, a full
stop or a question mark at the end, and no other punctuation but apostrophes (what the speech model writes).
The parsed corpus is cached (`CACHE_DIR`), keyed by this code and the source files, so a rerun reads one file.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import random
import re
import unicodedata
from pathlib import Path

from modrwkv.train.recipes import speech_generated, speech_text_sources, speech_words
from modrwkv.train.recipes.speech_corpus import REAL_TEXTS, is_held_out, normalise
from modrwkv.train.recipes.speech_generated import generated_sentences
from modrwkv.train.recipes.speech_text_sources import SOURCES
from modrwkv.train.recipes.speech_words import spell_numbers

CACHE_DIR = Path.home() / ".cache" / "modrwkv"
MIN_WORDS, MAX_WORDS = 3, 25  # a clip says one sentence; 25 words is about as much as an 8 s window holds
GENERATED = 30_000  # generated sentences: enough that the numbers, times and names are each heard many times
SPLITS = ("train", "held_out")
# how often `sentences` draws from each source: the everyday sentences of WordNet's examples and the fortunes
# most, the definitions' and the 1913 quotations' formal English less, the assistant's commands a fifth
WEIGHTS = {"wordnet_examples": 30, "wordnet_definitions": 15, "fortunes": 20, "gcide": 15, "generated": 20}

# marks a reader does not say: commas and the like, emphasis (_not_, *very*), an ellipsis ("...", ". . ."), dashes
_PUNCTUATION_DROPPED = re.compile(r"[,;:\"()_*]|\.(?: ?\.)+|(?<=\w)--(?=\w)|\s-+\s|\s-+$")
_WORD = r"[A-Za-z]+(?:'[A-Za-z]+)*'?"
_SPOKEN = re.compile(rf"{_WORD}(?: {_WORD})*[.?]")
_EDITORS_NOTE = re.compile(r"\[[^\]]*\]")  # "[Obs.]"
_DIGIT = re.compile(r"\d")
_HYPHEN = re.compile(r"(?<=\w)-(?=\w)")
_LETTERS = re.compile(r"[A-Za-z' ]+")
_I = re.compile(r"I(?:'[a-z]+)?")
_TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": " - ",
                             "\u2014": " - ", "&": " and "})


def spoken(text: str) -> str | None:
    """`text` as a transcriber writes it, or None when it cannot be (digits it cannot read, symbols, a stray full
    stop of an abbreviation, letters outside a-z after accents are removed, a word of one letter other than "a" or
    "I", or fewer than MIN_WORDS or more than MAX_WORDS words).

    "The 2 dogs (both old) ran; fast!" -> "The two dogs both old ran fast."
    """
    text = text.translate(_TYPOGRAPHY)
    if not text.isascii():  # "café" -> "cafe", as `normalise` reads it
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    if "[" in text:
        text = _EDITORS_NOTE.sub(" ", text)
    if _DIGIT.search(text):
        text = spell_numbers(text)
    text = text.strip()
    question = text.rstrip("\"') ").endswith("?")
    text = _PUNCTUATION_DROPPED.sub(" ", text.rstrip(".!?\"') "))
    text = _HYPHEN.sub(" ", text)  # "well-known": `normalise` splits it into two words too
    if not _LETTERS.fullmatch(text):  # symbols, digits it could not read, an abbreviation's full stop
        return None
    words = text.split()
    if "'" in text:
        words = [w for w in map(_unquoted, words) if w]  # a lone quote mark leaves no word
    if not MIN_WORDS <= len(words) <= MAX_WORDS or any(len(w) == 1 and w not in ("a", "A", "I") for w in words):
        return None
    if len(words) >= 4 and all(w[0].isupper() for w in words):  # a Title In Capitals: a transcriber writes prose
        words = words[:1] + [w if _I.fullmatch(w) else w.lower() for w in words[1:]]
    words = [w.lower() if len(w) >= 4 and w.isupper() else w for w in words]  # shouted, not an acronym
    text = " ".join(words)
    text = text[0].upper() + text[1:] + ("?" if question else ".")
    return text if _SPOKEN.fullmatch(text) else None


def _unquoted(word: str) -> str:
    """A word without quoting apostrophes ("'tis" keeps its own, "dogs'" its possessive)."""
    return word.strip("'") + ("'" if word.endswith("s'") else "")


def _code_version() -> str:
    """A hash of the code that writes the corpus: a change to it makes a new cache file."""
    files = [Path(m.__file__) for m in (speech_generated, speech_text_sources, speech_words)] + [Path(__file__)]
    return hashlib.sha1(b"".join(f.read_bytes() for f in files)).hexdigest()[:16]


def _cache_path(cache_dir: Path) -> Path:
    stamp = [_code_version()]
    for source in SOURCES:
        stamp += [f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in source.paths if p.exists()]
    return cache_dir / f"speech-text-{hashlib.sha1(' '.join(stamp).encode()).hexdigest()[:16]}.json.gz"


def _parse() -> dict[str, list[str]]:
    """Every source's distinct spoken sentences, none of them saying what a real test recording says."""
    raw = {s.name: s.read() for s in SOURCES if s.available()}
    raw["generated"] = generated_sentences(GENERATED, seed=0)
    parsed, seen = {}, set()
    for name, texts in raw.items():
        parsed[name] = []
        for text in texts:
            text = spoken(text)
            if text is None or text.lower() in seen:
                continue
            padded = f" {normalise(text)} "
            if any(real in padded for real in REAL_TEXTS):
                continue
            seen.add(text.lower())  # a sentence two sources share belongs to the first
            parsed[name].append(text)
    return parsed


@functools.cache
def corpus(cache_dir: Path = CACHE_DIR) -> dict[str, dict[str, tuple[str, ...]]]:
    """{source: {split: sentences}}: the whole corpus, read from the cache, or parsed and cached."""
    path = _cache_path(cache_dir)
    if path.exists():
        parsed = json.loads(gzip.decompress(path.read_bytes()))
    else:
        parsed = _parse()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(gzip.compress(json.dumps(parsed).encode(), compresslevel=1))
        tmp.replace(path)  # another process reading the cache never sees half a file
        for stale in cache_dir.glob("speech-text-*.json.gz"):  # older code's or sources' corpora
            if stale != path:
                stale.unlink(missing_ok=True)
    return {name: {split: tuple(t for t in texts if is_held_out(t) == (split == "held_out")) for split in SPLITS}
            for name, texts in parsed.items()}


def missing_sources() -> list[str]:
    """The Debian packages of the text sources that are not installed here."""
    return sorted({s.package for s in SOURCES if not s.available()})


def sentences(split: str, n: int, seed: int, cache_dir: Path = CACHE_DIR) -> list[str]:
    """`n` distinct sentences of one side of the split ("train" or "held_out"), drawn by `seed` from the sources
    in proportion to WEIGHTS (among the sources installed)."""
    if split not in SPLITS:
        raise ValueError(f"sentences: split must be one of {SPLITS}, got {split!r}")
    pools = {name: texts[split] for name, texts in corpus(cache_dir).items() if texts[split]}
    available = sum(len(p) for p in pools.values())
    if not 0 <= n <= available:
        raise ValueError(f"sentences: n must be between 0 and {available} (the {split} sentences of "
                         f"{', '.join(pools)}), got {n}")
    rng, chosen = random.Random(seed), {}
    names, weights = list(pools), [WEIGHTS[name] for name in pools]
    while len(chosen) < n:
        pool = pools[rng.choices(names, weights)[0]]
        chosen.setdefault(pool[rng.randrange(len(pool))], None)
        if len(chosen) > 0.9 * available:  # the last few by rejection would take long: take the rest in order
            rest = [t for p in pools.values() for t in p if t not in chosen]
            rng.shuffle(rest)
            chosen.update(dict.fromkeys(rest[: n - len(chosen)]))
    return list(chosen)


def vocabulary(cache_dir: Path = CACHE_DIR) -> frozenset[str]:
    """Every word of the corpus (both splits), as `normalise` writes it."""
    return frozenset(w for texts in corpus(cache_dir).values() for split in texts.values() for t in split
                     for w in normalise(t).split())
