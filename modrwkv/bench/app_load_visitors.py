"""`app-load`'s visitors: threads, each a browser session of its own (one `gradio_client.Client`), that try every
tab once in a random order, then keep asking what real visitors ask: image questions and their follow-ups, short and
longer recordings, the example CSV, and now and then a small efficiency run; between two requests a think time drawn
from an exponential distribution.
"""
from __future__ import annotations

import random
import re
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradio_client import Client, handle_file

from modrwkv.bench.app_load_stats import ENDPOINTS, Request, error_kind
from modrwkv.tokenizer import RWKVTokenizer

EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "examples"
IMAGES = ("easy_vqa_circle.png", "easy_vqa_rectangle.png")
RECORDINGS = ("speech_weather.wav", "speech_directions.wav")
SALES = "monthly_sales.csv"
LONG_REPEATS = 4  # the examples joined this many times over: a recording of about half a minute
QUESTIONS = ("What shape is in the image?", "What color is the shape?", "Describe the image.")
FOLLOW_UPS = ("What color is it?", "Are you sure?", "Is it large or small?", "What else do you see?")
CHAT_TOKENS = 32  # an answer of a few sentences, as a visitor waits for
REQUEST_SECONDS = 300.0  # a request still unanswered after this long is cancelled and counted as an error
POLL_SECONDS = 0.02  # how often a request's streamed updates are looked at: the resolution of time-to-first-update

# (endpoint, variant, weight) of the requests after a visitor's first tour of the tabs
MIX = (
    ("/chat", "image question", 0.25),
    ("/chat", "follow-up", 0.30),
    ("/transcribe", "short recording", 0.15),
    ("/transcribe", "long recording", 0.08),
    ("/forecast", "example CSV", 0.14),
    ("/efficiency", "tiny shape", 0.08),
)
TOUR = (
    ("/chat", "image question"), ("/transcribe", "short recording"), ("/forecast", "example CSV"),
    ("/efficiency", "tiny shape"),
)


def api_problems(api: dict) -> list[str]:
    """What the app's API (`Client.view_api(return_format="dict")`) lacks of what the visitors send, if anything."""
    named = api.get("named_endpoints", {})
    problems = []
    for endpoint, (params, _) in ENDPOINTS.items():
        if endpoint not in named:
            problems.append(f"no {endpoint} endpoint")
            continue
        known = {p.get("parameter_name") for p in named[endpoint].get("parameters", [])}
        if missing := [p for p in params if p not in known]:
            problems.append(f"{endpoint} takes no {', '.join(missing)}")
    return problems


def long_recording(folder: Path) -> Path:
    """The example recordings joined LONG_REPEATS times over, as one WAV in `folder`."""
    path = folder / "long_recording.wav"
    frames, params = [], None
    for name in RECORDINGS * LONG_REPEATS:
        with wave.open(str(EXAMPLES / name), "rb") as part:
            if params is None:
                params = part.getparams()
            elif part.getparams()[:3] != params[:3]:  # channels, sample width, rate
                raise ValueError(f"{name} is not in the format of {RECORDINGS[0]}: they cannot be joined")
            frames.append(part.readframes(part.getnframes()))
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(b"".join(frames))
    return path


@dataclass
class Visitor:
    """One session's requests, made on its own thread until `deadline` (time.monotonic())."""

    index: int
    url: str
    downloads: Path  # where its client saves the files the app returns (not the server's folders)
    long_audio: Path
    rng: random.Random
    t0: float  # time.monotonic() when the visitors started: each request's start is counted from it
    endpoints: tuple[str, ...] = tuple(ENDPOINTS)  # those it asks (`--only`)
    requests: list[Request] = field(default_factory=list)
    connect_error: str | None = None
    history: list | None = None  # the last chat's conversation, for a follow-up
    client: Client | None = None

    def connect(self) -> Client:
        # gradio_client opens an httpx client per request and per file it downloads, each loading the CA
        # certificates anew (20 ms) where it verifies: for a plain-HTTP (local) app that is most of the load
        # generator's work, on the cores it shares with the server, and verifies nothing
        self.client = Client(self.url, verbose=False, download_files=str(self.downloads),
                             ssl_verify=self.url.startswith("https://"))
        return self.client

    def close(self) -> None:
        """Ends the session: the client stops its heartbeat, as a closed browser tab does."""
        if self.client is not None:
            self.client.close()

    def run(self, deadline: float, think: float) -> None:
        try:
            self.connect()
        except Exception as e:  # any failure to open a session is reported, not raised in a thread
            self.connect_error = error_kind(e)
            return
        plan = [(e, v) for e, v in TOUR if e in self.endpoints]
        self.rng.shuffle(plan)  # a visitor tries every tab first, in an order of their own
        while True:
            self._think(deadline, think)
            if time.monotonic() >= deadline:
                return
            endpoint, variant = plan.pop(0) if plan else self._next()
            self.request(endpoint, variant)

    def _think(self, deadline: float, think: float) -> None:
        if think > 0:
            time.sleep(max(0.0, min(self.rng.expovariate(1 / think), deadline - time.monotonic())))

    def _next(self) -> tuple[str, str]:
        mix = [(e, v, w) for e, v, w in MIX if e in self.endpoints and (v != "follow-up" or self.history)]
        return self.rng.choices([(e, v) for e, v, _ in mix], [w for _, _, w in mix])[0]

    def _arguments(self, endpoint: str, variant: str) -> dict[str, Any]:
        rng = self.rng
        if endpoint == "/chat":
            follow = variant == "follow-up"
            return {
                "image": None if follow else handle_file(str(EXAMPLES / rng.choice(IMAGES))),
                "message": rng.choice(FOLLOW_UPS if follow else QUESTIONS),
                "history": _resend(self.history) if follow else [],
                "temperature": 1.0, "top_p": 0.3, "max_new_tokens": CHAT_TOKENS,
            }
        if endpoint == "/transcribe":
            audio = self.long_audio if variant == "long recording" else EXAMPLES / rng.choice(RECORDINGS)
            return {"audio": handle_file(str(audio))}
        if endpoint == "/forecast":
            return {"path": handle_file(str(EXAMPLES / SALES)), "target_col": "", "horizon": rng.choice((6, 12, 24)),
                    "timestamp_col": ""}
        return {"shape": "tiny", "max_context": 512, "step": 256}

    def request(self, endpoint: str, variant: str) -> Request:
        """Makes one request and records it; a chat's conversation is kept for the follow-ups."""
        assert self.client is not None, "connect() first"
        start = time.monotonic()
        record = dict(endpoint=endpoint, variant=variant, visitor=self.index, start_s=start - self.t0)
        try:
            result, first, first_text = call(self.client, endpoint, self._arguments(endpoint, variant),
                                             ENDPOINTS[endpoint][1])
        except Exception as e:  # every failure is a data point of the run
            req = Request(**record, latency_s=time.monotonic() - start, error=error_kind(e))
        else:
            latency = time.monotonic() - start
            req = Request(**record, latency_s=latency, first_update_s=None if first is None else first - start,
                          first_text_s=None if first_text is None else first_text - start,
                          tokens=generated_tokens(endpoint, result))
            if endpoint == "/chat":
                self.history = result
        self.requests.append(req)
        return req


def call(client: Client, endpoint: str, kwargs: dict[str, Any], streams: bool,
         clock: Callable[[], float] = time.monotonic) -> tuple[Any, float | None, float | None]:
    """The endpoint's final output, when (by `clock`) its first streamed update arrived and when its first update
    with answer text did (None for an endpoint that does not stream, or whose updates all came with its end); raises
    what the request failed with."""
    job = client.submit(api_name=endpoint, **kwargs)
    start, first, first_text = clock(), None, None
    while not job.done():
        if streams and first_text is None and (outputs := job.outputs()):
            first = first or clock()
            if answer_text(endpoint, outputs[-1]):
                first_text = clock()
        if clock() - start > REQUEST_SECONDS:
            job.cancel()
            raise TimeoutError(f"no answer within {REQUEST_SECONDS:.0f} s")
        time.sleep(POLL_SECONDS)
    return job.result(), first, first_text


def answer_text(endpoint: str, output: Any) -> str:
    """The answer text in one of a chat's or a transcription's outputs so far ('' for the other endpoints): a
    waiting or reading line is an update, not yet an answer."""
    if endpoint == "/chat" and isinstance(output, list) and output:
        content = output[-1].get("content")  # the client gets a message's content as a list of blocks
        blocks = [content] if isinstance(content, str) else content or []
        return "".join(b if isinstance(b, str) else b.get("text", "") for b in blocks if isinstance(b, (str, dict)))
    if endpoint == "/transcribe" and isinstance(output, (list, tuple)) and output:
        return output[0] or ""
    return ""


_tokenizer: RWKVTokenizer | None = None


def generated_tokens(endpoint: str, result: Any) -> int | None:
    """Tokens a served chat or transcription generated: the chat's figures line says; a transcript is counted by the
    tokenizer (its windows' stop tokens aside)."""
    global _tokenizer
    if endpoint == "/chat":
        found = re.search(r"(\d+) generated", str(result[-2].get("metadata", {}).get("title", "")))
        return int(found[1]) if found else None
    if endpoint == "/transcribe":
        _tokenizer = _tokenizer or RWKVTokenizer()
        return len(_tokenizer.encode(answer_text(endpoint, result)))
    return None


def _resend(history: list | None) -> list:
    """A conversation as /chat returned it, ready to send back: its files are local paths after the client downloaded
    them, and must be uploaded again (as a browser does)."""
    for message in history or []:
        for block in message.get("content", []):
            if isinstance(block, dict) and block.get("type") == "file" and isinstance(block.get("file"), str):
                block["file"] = handle_file(block["file"])
    return history or []


def run_visitors(visitors: list[Visitor], deadline: float, think: float) -> None:
    """Every visitor on its own thread until `deadline`; returns when the last one's request has been answered."""
    threads = [threading.Thread(target=v.run, args=(deadline, think), name=f"visitor-{v.index}", daemon=True)
               for v in visitors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + REQUEST_SECONDS + 30)
