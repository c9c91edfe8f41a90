"""The speech recipe's English (modrwkv.train.recipes.speech_text): real sentences from Debian's text packages and
generated commands, in the form a transcriber writes, with a vocabulary of at least 20,000 words and a held-out
side that training never sees."""
from __future__ import annotations

import re

import pytest

from modrwkv.train.recipes import speech_text as st
from modrwkv.train.recipes.speech_corpus import REAL_TEXTS, is_held_out, normalise
from modrwkv.train.recipes.speech_words import spell_numbers, time_words, year_words

needs_sources = pytest.mark.skipif(bool(st.missing_sources()),
                                   reason=f"text sources missing: apt-get install {' '.join(st.missing_sources())}")


@pytest.fixture(scope="module")
def corpus() -> dict[str, dict[str, tuple[str, ...]]]:
    return st.corpus()  # parsed once per machine, then read from CACHE_DIR


def every(corpus: dict, split: str) -> list[str]:
    return [t for texts in corpus.values() for t in texts[split]]


@needs_sources
def test_vocabulary_has_at_least_20000_words():
    assert len(st.vocabulary()) >= 20_000


@needs_sources
def test_sentences_are_3_to_25_words_in_the_transcript_form(corpus):
    texts = every(corpus, "train") + every(corpus, "held_out")
    assert all(st.MIN_WORDS <= len(t.split()) <= st.MAX_WORDS for t in texts)
    # letters and apostrophes only, a capital first and one full stop or question mark last: the words are what
    # `normalise` (WER's comparison) keeps, numbers spelled out
    form = re.compile(r"[A-Z][A-Za-z' ]*[A-Za-z'][.?]")
    assert [t for t in texts if not form.fullmatch(t)] == []
    assert all(normalise(t).split() == t[:-1].lower().split() for t in texts)


@needs_sources
def test_train_and_held_out_never_share_a_sentence(corpus):
    train, held_out = ({t.lower() for t in every(corpus, split)} for split in st.SPLITS)
    assert held_out and not train & held_out
    assert all(is_held_out(t) for t in held_out)


@needs_sources
def test_no_sentence_says_what_a_real_test_recording_says(corpus):
    padded = [f" {normalise(t)} " for t in every(corpus, "train") + every(corpus, "held_out")]
    assert not [t for t in padded if any(real in t for real in REAL_TEXTS)]


@needs_sources
def test_every_source_gives_sentences(corpus):
    assert {name for name, texts in corpus.items() if len(texts["train"]) > 10_000} == set(st.WEIGHTS)


@needs_sources
def test_sentences_draws_distinct_sentences_of_one_side_from_every_source(corpus):
    drawn = st.sentences("held_out", 2000, seed=3)
    assert len(set(drawn)) == 2000 and all(is_held_out(t) for t in drawn)
    sources = {name for name, texts in corpus.items() for t in drawn if t in set(texts["held_out"])}
    assert sources == set(st.WEIGHTS)


@needs_sources
def test_same_seed_draws_the_same_sentences():
    assert st.sentences("train", 500, seed=1) == st.sentences("train", 500, seed=1)


@needs_sources
@pytest.mark.parametrize("split, n, message", [("test", 10, "split must be one of"),
                                               ("held_out", 10**7, "n must be between 0 and")])
def test_bad_request_is_refused(split, n, message):
    with pytest.raises(ValueError, match=message):
        st.sentences(split, n, seed=0)


@pytest.mark.parametrize("raw, said", [
    ("The 2 dogs (both old) ran; fast!", "The two dogs both old ran fast."),
    ("In 1848, about 1,200 men left.", "In eighteen forty eight about one thousand two hundred men left."),
    ("Is it a \u201cwell-known\u201d caf\u00e9?", "Is it a well known cafe?"),
    ("the growth rate was 3.5% in the 1960s", "The growth rate was three point five percent in the nineteen sixties."),
    ("If Love Were Oil I'd Be About A Quart Low.", "If love were oil I'd be about a quart low."),
    ("the boys' toys are here", "The boys' toys are here."),
])
def test_spoken_form_is_what_a_transcriber_writes(raw, said):
    assert st.spoken(raw) == said


@pytest.mark.parametrize("raw", ["Play fair.", "Call 555-1234 now please.", "See <Knghtbrd> on IRC today.",
                                 "Let x be the first number.", "The U.S. army was there.", " ".join(["word"] * 26)])
def test_text_a_transcriber_cannot_write_plainly_is_dropped(raw):
    assert st.spoken(raw) is None


def test_ordinals_and_counts_are_spelled_out():
    assert spell_numbers("the 21st of 25 rooms") == "the twenty first of twenty five rooms"


@pytest.mark.parametrize("hour, minute, said", [(15, 30, "three thirty"), (7, 5, "seven oh five"),
                                                (9, 0, "nine o'clock"), (12, 0, "noon")])
def test_clock_times_are_said_on_the_12_hour_clock(hour, minute, said):
    assert time_words(hour, minute) == said


@pytest.mark.parametrize("year, said", [(1905, "nineteen oh five"), (2000, "two thousand"),
                                        (2024, "twenty twenty four"), (1066, "ten sixty six")])
def test_years_are_said_in_pairs_of_digits(year, said):
    assert year_words(year) == said
