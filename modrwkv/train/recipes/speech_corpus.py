"""The speech recipe's data: English sentences written from word lists, spoken by espeak-ng in many voices, then
made harder (room reverberation, telephone band, noise) with numpy; and the real recordings it is scored on.

Everything is a function of a seed, so the recipe and the test regenerate the same held-out recordings.
"""
from __future__ import annotations

import hashlib
import random
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

SAMPLE_RATE = 16_000
HELD_OUT_PERCENT = 4  # sentences whose hash falls here are never trained on
WORD_LIST_PERCENT = 30
MAX_SPEECH_SECONDS = 6.5  # espeak-ng's speech is sped up to fit: with the pauses added, a clip fits an 8 s window

# ~400 words in all: each is heard often enough in a few thousand clips to be learned from scratch
_NOUNS = """dog cat horse bird fish cow duck goat mouse fox bear frog rabbit boy girl man woman child baby friend
teacher doctor farmer driver captain house room kitchen garden door window wall floor table chair bed box bag cup
glass plate bowl spoon knife pot lamp clock phone radio book letter paper pen map picture car bus truck train boat
ship plane road street bridge river lake sea hill field forest tree flower grass stone sand snow rain wind sun
moon star fire water bread cake apple lemon egg milk tea soup rice cheese salt sugar coat hat shirt shoe ring key
rope bell ball toy money ticket shop school market park town farm song game story music""".split()
_PLURALS = {"mouse": "mice", "fish": "fish", "man": "men", "woman": "women", "child": "children", "baby": "babies",
            "knife": "knives", "story": "stories", "music": "music"}
_ADJECTIVES = """big small old new young long short tall hot cold warm wet dry clean dirty soft hard dark bright
quiet loud fast slow happy sad tired hungry empty full red blue green yellow black white brown pink round flat
sharp smooth sweet fresh strange broken heavy deep thin thick strong""".split()
_NAMES = "Anna Tom Mary John Peter Susan Paul Sarah David Emma Mark Lucy".split()
# (base, past, third person); the object is a noun phrase
_TRANSITIVE = [("take", "took", "takes"), ("bring", "brought", "brings"), ("find", "found", "finds"),
               ("carry", "carried", "carries"), ("paint", "painted", "paints"), ("clean", "cleaned", "cleans"),
               ("open", "opened", "opens"), ("close", "closed", "closes"), ("push", "pushed", "pushes"),
               ("throw", "threw", "throws"), ("catch", "caught", "catches"), ("buy", "bought", "buys"),
               ("sell", "sold", "sells"), ("move", "moved", "moves"), ("hold", "held", "holds"),
               ("drop", "dropped", "drops"), ("fix", "fixed", "fixes"), ("watch", "watched", "watches"),
               ("see", "saw", "sees"), ("lose", "lost", "loses"), ("wash", "washed", "washes"),
               ("fill", "filled", "fills"), ("cut", "cut", "cuts"), ("draw", "drew", "draws"),
               ("cook", "cooked", "cooks"), ("read", "read", "reads"), ("need", "needed", "needs"),
               ("like", "liked", "likes")]
_INTRANSITIVE = [("sleep", "slept", "sleeps"), ("run", "ran", "runs"), ("walk", "walked", "walks"),
                 ("sit", "sat", "sits"), ("stand", "stood", "stands"), ("wait", "waited", "waits"),
                 ("jump", "jumped", "jumps"), ("swim", "swam", "swims"), ("play", "played", "plays"),
                 ("sing", "sang", "sings"), ("work", "worked", "works"), ("rest", "rested", "rests"),
                 ("fall", "fell", "falls"), ("stay", "stayed", "stays"), ("dance", "danced", "dances"),
                 ("laugh", "laughed", "laughs")]
_PREPOSITIONS = "in on under near behind beside above below across over into from to".split()
_TIMES = ["today", "tonight", "yesterday", "tomorrow", "this morning", "this evening", "last night", "last week",
          "next week", "at noon", "before dinner", "after lunch", "every day", "on Monday", "on Friday", "on Sunday",
          "in the spring", "in the winter", "soon", "again", "later"]
_ADVERBS = "slowly quickly quietly loudly carefully happily together alone early late often".split()
_NUMBERS = """one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty
fifty hundred""".split()
_DIRECTIONS = "left right front back center middle side rear top bottom north south east west up down".split()
_WEATHER = "sunny cloudy rainy windy cold warm hot foggy dry wet".split()


_WORDS = sorted({*_NOUNS, *_ADJECTIVES, *_NAMES, *_ADVERBS, *_NUMBERS, *_DIRECTIONS, *_WEATHER, *_PREPOSITIONS,
                 *(form for verbs in (_TRANSITIVE, _INTRANSITIVE) for verb in verbs for form in verb)})


def _plural(noun: str) -> str:
    if noun in _PLURALS:
        return _PLURALS[noun]
    return noun + ("es" if noun.endswith(("s", "sh", "ch", "x")) else "s")


def _np(rng: random.Random, plural: bool = False) -> str:
    """A noun phrase: "the old dog", "a cup", "my keys", "three red boxes"."""
    noun = rng.choice(_NOUNS)
    adj = rng.choice(_ADJECTIVES) + " " if rng.random() < 0.5 else ""
    if plural:
        det = rng.choice(["the", "some", "two", "three", "many", "my", "your", "our", "these", "those",
                          rng.choice(_NUMBERS)])
        return f"{det} {adj}{_plural(noun)}"
    det = rng.choice(["the", "the", "a", "my", "your", "his", "her", "our", "this", "that"])
    if det == "a" and (adj or noun)[0] in "aeio":
        det = "an"
    return f"{det} {adj}{noun}"


def _subject(rng: random.Random) -> tuple[str, bool]:
    """(subject, is third person singular)."""
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(_NAMES), True
    if roll < 0.5:
        pronoun = rng.choice(["I", "you", "we", "they", "he", "she", "it"])
        return pronoun, pronoun in ("he", "she", "it")
    plural = rng.random() < 0.3
    return _np(rng, plural), not plural


def _place(rng: random.Random) -> str:
    return f"{rng.choice(_PREPOSITIONS)} {_np(rng, rng.random() < 0.2)}"


def sentence(rng: random.Random) -> str:
    """One English sentence of 2 to ~14 words, with its capital and full stop or question mark."""
    # short phrases (10, 12) three times as often: a clip of one to three words teaches its words' sounds directly
    kind = rng.choices(range(17), weights=[3 if k in (10, 12) else 1 for k in range(17)])[0]
    subject, third = _subject(rng)
    trans, intrans = rng.choice(_TRANSITIVE), rng.choice(_INTRANSITIVE)
    when = rng.choice(_TIMES)
    if kind == 0:
        text = f"{subject} {trans[1]} {_np(rng)} {when}."
    elif kind == 1:
        text = f"{subject} {intrans[1]} {_place(rng)}."
    elif kind == 2:
        text = f"{subject} {trans[2] if third else trans[0]} {_np(rng, rng.random() < 0.4)} {_place(rng)}."
    elif kind == 3:
        text = f"please {trans[0]} {_np(rng)} {_place(rng)}."
    elif kind == 4:
        text = f"{subject} will {intrans[0]} {rng.choice(_ADVERBS)} {when}."
    elif kind == 5:
        text = f"there are {rng.choice(_NUMBERS)} {_plural(rng.choice(_NOUNS))} {_place(rng)}."
    elif kind == 6:
        text = f"is {_np(rng)} {_place(rng)}?"
    elif kind == 7:
        text = f"where did {rng.choice(_NAMES)} {trans[0]} {_np(rng)}?"
    elif kind == 8:
        adj = rng.sample(_ADJECTIVES, 2)
        text = f"{_np(rng)} was {adj[0]} and {adj[1]}."
    elif kind == 9:
        text = f"turn {rng.choice(['left', 'right'])} at {_np(rng)} and walk to the {rng.choice(_DIRECTIONS)}."
    elif kind == 10:
        a, b = rng.sample(_DIRECTIONS, 2)
        text = rng.choice([f"{a} {b}.", f"the {a} {b}.", f"{a} and {b}.", f"move it to the {a} {b}."])
    elif kind == 11:
        text = f"it will be {rng.choice(_WEATHER)} {when}."
    elif kind == 12:
        text = rng.choice([f"{rng.choice(_NUMBERS)} {rng.choice(_NUMBERS)}.", f"{rng.choice(_NAMES)}.",
                           f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}.", f"{rng.choice(_NOUNS)}.",
                           f"{rng.choice(['yes', 'no', 'hello', 'thank you', 'good morning', 'stop', 'wait'])}."])
    elif kind == 13:
        text = f"{rng.choice(_NAMES)} said that {_np(rng)} {trans[1]} {_np(rng)}."
    elif kind == 14:
        text = f"{subject} {trans[1]} {_np(rng)} of {_np(rng, rng.random() < 0.5)} too."
    elif kind == 15:
        text = f"it's {rng.choice(['easy', 'hard', 'good', 'time'])} to {trans[0]} {_np(rng)} {when}."
    else:
        text = f"{_np(rng)} makes {_np(rng)} very {rng.choice(_ADJECTIVES)}."
    return text[0].upper() + text[1:]


def is_held_out(text: str) -> bool:
    """The split is by sentence (a hash of its text), so no recording of a held-out sentence is ever trained on."""
    return int(hashlib.sha1(text.lower().encode()).hexdigest(), 16) % 100 < HELD_OUT_PERCENT


def word_list(rng: random.Random) -> str:
    """Three to seven words of the corpus in no grammatical order: a transcript that only listening can get right,
    so the model cannot lean on the sentence patterns alone."""
    text = " ".join(rng.sample(_WORDS, rng.randint(3, 7)))
    return text[0].upper() + text[1:] + "."


def utterances(n: int, seed: int, held_out: bool) -> list[str]:
    """`n` distinct texts, each one sentence (WORD_LIST_PERCENT of them a word list), all from one side of the
    split; none holds a text of the real recordings the model is scored on (`REAL_TEXTS`), so those are never seen
    in training either."""
    rng, seen = random.Random(seed), {}
    while len(seen) < n:
        text = word_list(rng) if rng.random() * 100 < WORD_LIST_PERCENT else sentence(rng)
        if is_held_out(text) == held_out and not any(real in f" {normalise(text)} " for real in REAL_TEXTS):
            seen.setdefault(text, None)
    return list(seen)


def normalise(text: str) -> str:
    """Lower case, words only: how texts are compared (WER's normalisation, modrwkv.train.metrics)."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


# espeak-ng's English voices and variants that Whisper hears best: faster-whisper tiny.en's WER on five clean
# template sentences at 160 wpm was 15-33% with each of these, 35-88% with the ones left out (en-gb-scotland,
# en-029, en-gb-x-gbcwmd; Andy, Alicia, david, linda, travis, klatt*, ...): their features carry too little of
# the words for a model trained from scratch to learn them.
VOICES = ("en-us", "en-gb", "en-gb-x-rp", "en-gb-x-gbclan", "en-us-nyc")
VARIANTS = ("m1", "m3", "m4", "m5", "m6", "m7", "f2", "f3", "f4", "aunty", "edward", "john", "Mike", "paul",
            "quincy", "rob", "robert", "steph", "victor", "grandpa", "norbert")


@dataclass(frozen=True)
class Degradation:
    """What happens to a recording after the voice: room, channel, noise and level."""

    reverb_seconds: float  # RT60 of a synthetic room; 0 = dry
    telephone: bool  # 300-3400 Hz band through an 8 kHz channel, as the codec2 recordings are
    snr_db: float | None  # added noise; None = none
    noise: str  # white, pink, brown or hum
    seed: int


def degradation(rng: random.Random, seed: int) -> Degradation:
    """Room (25%: RT60 0.1-0.5 s), telephone band (20%) and noise (50%: 10-40 dB SNR), drawn from `rng`; `seed`
    seeds the noise itself."""
    return Degradation(
        reverb_seconds=rng.uniform(0.1, 0.5) if rng.random() < 0.25 else 0.0, telephone=rng.random() < 0.2,
        snr_db=rng.uniform(10, 40) if rng.random() < 0.5 else None,
        noise=rng.choice(["white", "pink", "brown", "hum"]), seed=seed,
    )


@dataclass(frozen=True)
class Rendering:
    """How one espeak-ng recording is made: the voice and the degradation applied after it."""

    voice: str  # e.g. "en-gb+f3"
    speed: int  # words per minute
    pitch: int  # 0..99
    degradation: Degradation


def rendering(seed: int) -> Rendering:
    rng = random.Random(seed)
    return Rendering(voice=f"{rng.choice(VOICES)}+{rng.choice(VARIANTS)}", speed=rng.randint(120, 220),
                     pitch=rng.randint(20, 80), degradation=degradation(rng, seed))


def speak(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """espeak-ng's recording of `text`, float32 at 16 kHz."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", f.name, text],
                       check=True, capture_output=True)
        audio, rate = sf.read(f.name, dtype="float32")
    return at_16k(audio, rate)


def at_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    """A synthesizer's output (mono, or [T, channels]) as float32 mono at SAMPLE_RATE."""
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    return signal.resample_poly(audio, SAMPLE_RATE, rate).astype(np.float32)  # scipy reduces the ratio itself


def degrade(audio: np.ndarray, r: Degradation) -> np.ndarray:
    """Silence around the speech, then room, channel and noise as `r` says; peak level varied."""
    rng = np.random.default_rng(r.seed)
    pad = lambda: np.zeros(int(rng.uniform(0.05, 0.5) * SAMPLE_RATE), np.float32)  # noqa: E731
    x = np.concatenate([pad(), audio, pad()]).astype(np.float64)
    if r.reverb_seconds:
        # exponentially decaying noise: the late reverberation of a room whose level falls 60 dB in reverb_seconds
        t = np.arange(int(r.reverb_seconds * SAMPLE_RATE)) / SAMPLE_RATE
        tail = rng.standard_normal(len(t)) * np.exp(-6.9 * t / r.reverb_seconds)
        tail[: int(0.005 * SAMPLE_RATE)] = 0  # the direct sound comes first, the room 5 ms later
        tail *= rng.uniform(0.3, 1.0) / np.sqrt(np.sum(tail**2))  # reverberant energy relative to the direct sound
        tail[0] = 1.0
        x = signal.fftconvolve(x, tail)[: len(x)]
    if r.telephone:
        x = signal.resample_poly(x, 1, 2)
        x = signal.sosfilt(signal.butter(4, [300, 3400], "bandpass", fs=8000, output="sos"), x)
        x = signal.resample_poly(x, 2, 1)
    if r.snr_db is not None:
        noise = _noise(r.noise, len(x), rng)
        gain = np.sqrt(np.mean(x**2) / (np.mean(noise**2) + 1e-12) / 10 ** (r.snr_db / 10))
        x = x + gain * noise
    x *= rng.uniform(0.1, 0.9) / (np.max(np.abs(x)) + 1e-9)
    return x.astype(np.float32)


def _noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "hum":  # mains hum with its harmonics, plus a little hiss
        t = np.arange(n) / SAMPLE_RATE
        f0 = rng.choice([50.0, 60.0])
        return sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3)) / h for h in range(1, 6)) + \
            0.1 * rng.standard_normal(n)
    white = rng.standard_normal(n)
    if kind == "white":
        return white
    spectrum = np.fft.rfft(white)
    f = np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 20.0)
    return np.fft.irfft(spectrum / (np.sqrt(f) if kind == "pink" else f), n)


def record(text: str, seed: int) -> np.ndarray:
    """The recording of `text` made with rendering(seed): the same audio every time."""
    r = rendering(seed)
    speech = speak(text, r.voice, r.speed, r.pitch)
    if len(speech) > MAX_SPEECH_SECONDS * SAMPLE_RATE:  # a long sentence at a slow rate: spoken faster
        speed = int(r.speed * len(speech) / (MAX_SPEECH_SECONDS * SAMPLE_RATE) * 1.05) + 1
        speech = speak(text, r.voice, speed, r.pitch)[: int(MAX_SPEECH_SECONDS * SAMPLE_RATE)]
    return degrade(speech, r.degradation)


def write_wav(path: Path, audio: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, SAMPLE_RATE, subtype="PCM_16")


# -- real speech -----------------------------------------------------------------------------------------------

CODEC2 = Path("/usr/share/codec2")
ALSA = Path("/usr/share/sounds/alsa")


@dataclass(frozen=True)
class RealClip:
    path: Path
    text: str  # what is said: the canonical Harvard sentences (IEEE 1969), or the file name's words
    sample_rate: int | None = None  # for headerless .raw files (16-bit little-endian mono)

    def audio(self) -> tuple[np.ndarray, int]:
        if self.sample_rate is not None:
            return np.fromfile(self.path, dtype="<i2").astype(np.float32) / 32768, self.sample_rate
        audio, rate = sf.read(self.path, dtype="float32")
        return audio, rate


# codec2-examples recordings of Harvard sentences (lists 1, 9: "IEEE Recommended Practice for Speech Quality
# Measurements", 1969). Only clips whose sentences are certain; hts1a/hts2a are the first 3 s of hts1/hts2.
CODEC2_CLIPS = (
    RealClip(CODEC2 / "raw/speech_orig_16k.wav", "The birch canoe slid on the smooth planks. Glue the sheet to the "
             "dark blue background. It's easy to tell the depth of a well. Four hours of steady work faced us."),
    RealClip(CODEC2 / "raw/hts1.raw", "The Navy attacked the big task force. The hat brim was wide and too droopy.",
             8000),
    RealClip(CODEC2 / "raw/hts2.raw", "These days a chicken leg is a rare dish. The juice of lemons makes fine punch.",
             8000),
    RealClip(CODEC2 / "wav/mmt1.wav", "It's easy to tell the depth of a well."),
)
ALSA_CLIPS = tuple(RealClip(ALSA / f"{name}.wav", name.replace("_", " ")) for name in (
    "Front_Center", "Front_Left", "Front_Right", "Rear_Center", "Rear_Left", "Rear_Right", "Side_Left",
    "Side_Right"))
# the texts the real recordings say, sentence by sentence, normalised and padded so that `in` matches whole words
REAL_TEXTS = tuple(f" {normalise(part)} " for clip in CODEC2_CLIPS + ALSA_CLIPS
                   for part in re.split(r"(?<=\.) ", clip.text))
