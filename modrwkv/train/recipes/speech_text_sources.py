"""Where the speech corpus's English comes from: text that Debian packages ship, read as raw sentences (the
spoken form is `speech_text.spoken`'s job).

- WordNet 3.0 (`wordnet-base`): the glosses of its synsets and their example sentences (the double-quoted parts);
- BSD fortune cookies (`fortunes`, `fortunes-min`), the offensive ones (an `off/` folder, `fortunes-off`) excluded;
- quotations of the GNU Collaborative International Dictionary of English (`dict-gcide`): the lines the 1913
  Webster's quotes from books, with their authors cut off.
"""
from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

WORDNET = Path("/usr/share/wordnet")
FORTUNES = Path("/usr/share/games/fortunes")
GCIDE = Path("/usr/share/dictd/gcide.dict.dz")

# files of the fortunes package that hold no prose to read aloud: drawings, and text in other languages
# pictures, untranslated text, and the files of jokes about groups of people or drugs, which a default model should
# not learn to say
_FORTUNES_SKIPPED = {"ascii-art", "translate-me", "ethnic", "men-women", "drugs", "politics"}
# abbreviations whose full stop would end a sentence early; spelled as they are said
_ABBREVIATIONS = {"Mr.": "Mister", "Mrs.": "Missus", "Dr.": "Doctor", "Prof.": "Professor", "St.": "Saint",
                  "Jr.": "Junior", "Sr.": "Senior", "e.g.": "for example", "i.e.": "that is", "etc.": "et cetera",
                  "vs.": "versus", "viz.": "namely", "cf.": "compare", "Mt.": "Mount", "No.": "number"}
_ABBREVIATION = re.compile("|".join(re.escape(a) for a in _ABBREVIATIONS) + r"(?=\s|$)")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]*[A-Z0-9])")


@dataclass(frozen=True)
class Source:
    """One text source: its name, the Debian package that installs it, its licence, the files it reads."""

    name: str
    package: str
    licence: str
    paths: tuple[Path, ...]
    read: Callable[[], Iterator[str]]

    def available(self) -> bool:
        return all(p.exists() for p in self.paths)


def split_sentences(text: str) -> list[str]:
    """`text` cut at its sentence ends, after spelling out the abbreviations that would end a sentence early."""
    text = _ABBREVIATION.sub(lambda m: _ABBREVIATIONS[m.group(0)], " ".join(text.split()))
    return [s for s in _SENTENCE_END.split(text) if s]


def verse_as_prose(lines: list[str]) -> str:
    """Lines of text as one: where every line that continues a sentence starts with a capital (at least two of
    them: verse), those capitals are lowered ("Your scope is as mine own, / So to enforce" -> "... own, so to
    enforce"), as a transcriber writes them; prose lines are joined as they are, since a capital there is a name's.
    """
    lines = [line.strip() for line in lines if line.strip()]
    continuing = [i for i in range(1, len(lines)) if lines[i - 1][-1] not in ".!?" and not re.match(r"I\b", lines[i])]
    if len(continuing) >= 2 and all(lines[i][0].isupper() for i in continuing):
        for i in continuing:
            lines[i] = lines[i][0].lower() + lines[i][1:]
    return " ".join(lines)


# -- WordNet -----------------------------------------------------------------------------------------------------

_POS = ("noun", "verb", "adj", "adv")


def _wordnet_glosses() -> Iterator[tuple[str, str]]:
    """(definitions, examples) of every synset: a gloss is "definition; definition; \"example\"; \"example\"".
    """
    for pos in _POS:
        with open(WORDNET / f"data.{pos}", encoding="utf-8") as f:
            for line in f:
                if line.startswith("  "):  # the licence header
                    continue
                _, _, gloss = line.partition(" | ")
                yield gloss.strip()


def wordnet_examples() -> Iterator[str]:
    """WordNet's example sentences: the double-quoted parts of its glosses ("the children played in the yard")."""
    for gloss in _wordnet_glosses():
        for example in re.findall(r'"([^"]+)"', gloss):
            yield from split_sentences(example)


def wordnet_definitions() -> Iterator[str]:
    """WordNet's definitions: the parts of its glosses between semicolons that are not quoted examples."""
    for gloss in _wordnet_glosses():
        for part in re.sub(r'"[^"]*"', "", gloss).split(";"):
            part = part.strip()
            if part and not part.startswith("-"):  # "- Shakespeare": an example's author
                yield part


# -- fortunes ----------------------------------------------------------------------------------------------------


def fortune_files() -> list[Path]:
    """The fortune text files: those with a .dat index beside them, outside any `off/` folder."""
    return sorted(p.with_suffix("") for p in FORTUNES.rglob("*.dat")
                  if "off" not in p.relative_to(FORTUNES).parts and p.stem not in _FORTUNES_SKIPPED)


def fortunes() -> Iterator[str]:
    """The fortunes' sentences; attribution lines ("-- Mark Twain") left out."""
    for path in fortune_files():
        for cookie in path.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            lines = [line for line in cookie.splitlines() if not line.strip().startswith(("--", "%"))]
            yield from split_sentences(verse_as_prose(lines))


# -- GCIDE -------------------------------------------------------------------------------------------------------

_QUOTE_INDENT = " " * 12  # quotations are indented 12 spaces; definitions 3-6, synonyms and usage notes 8-10
_AUTHOR = re.compile(r"\s--[A-Z].*$")  # "        --Shak." closing a quotation's last line


def gcide_quotations() -> Iterator[str]:
    """The sentences of GCIDE's quotations ("The sound will be carried, at the least, twenty miles." --Bacon).

    The .dict.dz file is dictzip, a gzip file whose chunks gzip reads as one stream. A few bytes are not UTF-8
    (Windows-1252 quotes): those become U+FFFD, which the spoken form refuses."""
    with gzip.open(GCIDE) as f:
        text = f.read().decode("utf-8", errors="replace")
    block: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith(_QUOTE_INDENT):
            block.append(_AUTHOR.sub("", " " + line.strip()).strip())  # the space: an author alone on a line
        elif block:
            yield from split_sentences(verse_as_prose(block))
            block = []


SOURCES = (
    Source("wordnet_examples", "wordnet-base", "WordNet 3.0 licence (Princeton University; BSD-like)",
           tuple(WORDNET / f"data.{pos}" for pos in _POS), wordnet_examples),
    Source("wordnet_definitions", "wordnet-base", "WordNet 3.0 licence (Princeton University; BSD-like)",
           tuple(WORDNET / f"data.{pos}" for pos in _POS), wordnet_definitions),
    Source("fortunes", "fortunes", "BSD (fortune-mod, University of California)", (FORTUNES / "people",),
           fortunes),
    Source("gcide", "dict-gcide", "GPL-2.0-or-later", (GCIDE,), gcide_quotations),
)
