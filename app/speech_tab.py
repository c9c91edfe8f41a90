"""Speech transcription tab: a recording or an upload in, the transcript streamed out, with TXT and SRT downloads."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from app import downloads, gpu, models
from app.errors import UserError, user_errors
from app.gpu import on_gpu
from app.model_bar import Selection, model_for
from modrwkv.encoders.media import audio_duration
from modrwkv.pipelines.transcription import Transcriber, to_srt

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "assets" / "examples"
EXAMPLES = ["speech_weather.wav", "speech_directions.wav"]
MIN_SECONDS = 0.3
MAX_SECONDS = 15 * 60
LIMITS = (
    f"WAV, MP3, FLAC, OGG or M4A at any sample rate, mono or stereo; from {MIN_SECONDS} s to {MAX_SECONDS // 60} "
    "minutes, up to 20 MB. Long recordings are cut at their pauses; long silences are skipped."
)


def validate(audio: str | None, selection: Selection | None) -> list[dict]:
    """The event's validator: one verdict per input, before the request joins the queue."""
    try:
        checked_seconds(audio)
    except gr.Error as e:
        return [gr.validate(False, e.message), gr.validate(True, "")]
    return [gr.validate(True, ""), gr.validate(True, "")]


def checked_seconds(audio: str | None) -> float:
    """The recording's length; a `gr.Error` unless a file is there, is audio, and is within the length limits."""
    if not audio:
        raise UserError(f"No audio: record with the microphone or upload a file ({LIMITS})")
    try:
        seconds = audio_duration(audio)
    except ValueError as e:
        raise UserError(str(e)) from e
    name = Path(audio).name
    if seconds < MIN_SECONDS:
        raise UserError(f"'{name}' is {seconds:.2f} s long, too short to hold a word "
                       f"(at least {MIN_SECONDS} s; check that the microphone recorded).")
    if seconds > MAX_SECONDS:
        raise UserError(f"'{name}' is {seconds / 60:.0f} minutes long; this app transcribes up to "
                       f"{MAX_SECONDS // 60} minutes. Cut it into parts.")
    return seconds


def _write(text: str, suffix: str) -> str:
    path = downloads.new_file(f"transcript{suffix}")
    path.write_text(text, encoding="utf-8")
    return str(path)


@on_gpu(gpu.TRANSCRIBE_SECONDS)
def transcribe(
    audio: str | None, selection: Selection | None = None
) -> Iterator[tuple[str, str, str | None, str | None]]:
    """Transcribe a recording, streaming the text as it is decoded.

    Args:
        audio: path or URL of an audio file (WAV, MP3, FLAC, OGG, M4A), up to 15 minutes.
    Returns:
        The transcript, a line with the duration and real-time factor, and TXT and SRT files of the transcript.
    """
    seconds = checked_seconds(audio)  # API callers skip the UI's validator
    model = model_for(selection, "audio")
    transcriber = Transcriber(model, models.tokenizer(), scheduler=models.scheduler(model),
                             encoder_queue=models.encoder_queue(model))
    text, started = "", time.perf_counter()
    with user_errors("transcribing the recording"):
        for piece in transcriber.stream(audio):
            text += piece
            waiting = f" (waiting for a place: {transcriber.ahead} ahead)" if transcriber.ahead is not None else ""
            yield text, f"Transcribing {seconds:.1f} s of audio…{waiting}", None, None
    elapsed = time.perf_counter() - started
    info = (f"{seconds:.1f} s of audio in {elapsed:.1f} s: real-time factor {elapsed / seconds:.2f} "
            f"({len(transcriber.segments)} stretch(es) of speech, each up to {transcriber.window_seconds:.0f} s)")
    yield text, info, _write(text.strip() + "\n", ".txt"), _write(to_srt(transcriber.segments), ".srt")


def build(selection: gr.State) -> None:
    """The tab's components and events, inside the caller's Blocks."""
    gr.Markdown(f"{models.introduction('audio')}\n\nRecord with the microphone, upload a recording or try an example, "
                f"then press Transcribe. {LIMITS}")
    with gr.Row():
        with gr.Column():
            audio = gr.Audio(
                sources=["microphone", "upload"], type="filepath", label="Recording", elem_id="speech-audio"
            )
            with gr.Row():
                go_btn = gr.Button("Transcribe", variant="primary")
                stop = gr.Button("Stop")
            gr.Examples([[str(EXAMPLES_DIR / name)] for name in EXAMPLES], inputs=[audio],
                        label="Try these (spoken by espeak-ng)")
        with gr.Column():
            transcript = gr.Textbox(label="Transcript", lines=10, buttons=["copy"], elem_id="speech-transcript")
            info = gr.Markdown(elem_id="speech-info", label="Duration and speed")
            with gr.Row():
                txt = gr.File(label="Transcript (TXT)")
                srt = gr.File(label="Subtitles (SRT)")
    running = go_btn.click(transcribe, [audio, selection], [transcript, info, txt, srt], api_name="transcribe",
                           **models.conversation_queue("speech"), validator=validate)
    stop.click(None, None, None, cancels=[running], api_visibility="private")
