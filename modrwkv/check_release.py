"""`python -m modrwkv.check_release REPO_ID`: vet a published ModRWKV / WorldRWKV release in one command.

On a machine that reaches the Hugging Face Hub (a Space, a laptop), it downloads the release (or reads it from the
Hub cache), loads it as the app does (a repo outside the release table with `--encoder NAME --encoder-source ID`),
answers the bundled example of its modality (the circle picture, or the weather recording) and prints the answer,
the timings and what loading had to assume (docs/releases.md). Exit code 0 when it answered, 1 when the release
could not be fetched or read.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from modrwkv import encoders
from modrwkv.encoders.media import MediaError
from modrwkv.multimodal import ModRWKV
from modrwkv.multimodal.official import RELEASES
from modrwkv.pipelines.image_chat import ImageChat
from modrwkv.pipelines.transcription import Transcriber
from modrwkv.rwkv7.checkpoint import CheckpointError
from modrwkv.rwkv7.loading import DTYPES
from modrwkv.sources import SourceUnavailable
from modrwkv.tokenizer import RWKVTokenizer

PROG = "python -m modrwkv.check_release"
EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"
IMAGE_EXAMPLE = (EXAMPLES / "easy_vqa_circle.png", "What is in this image?")
AUDIO_EXAMPLE = EXAMPLES / "speech_weather.wav"


def main(argv: list[str] | None = None, out=sys.stdout) -> int:  # noqa: ANN001 - a text stream
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("source", help=f"a release id (e.g. {next(iter(RELEASES))}), 'owner/name/rwkv-0', or a local file")
    p.add_argument("--dtype", default="fp32", choices=list(DTYPES), help="the backbone's (default %(default)s)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="cap the answer (default: the release's own, 500 for upstream's)")
    p.add_argument("--encoder", choices=encoders.available(),
                   help="for a repo that is not in the release table: the encoder its checkpoint was trained with")
    p.add_argument("--encoder-source", metavar="ID",
                   help="with --encoder: its weights (a Hugging Face id, e.g. openai/whisper-small, or a folder)")
    args = p.parse_args(argv)
    if (args.encoder is None) != (args.encoder_source is None):
        p.error("--encoder and --encoder-source go together")

    started = time.perf_counter()
    try:
        encoder = encoders.build(args.encoder, args.encoder_source) if args.encoder else None
        model = ModRWKV.from_pretrained(args.source, dtype=args.dtype, device=args.device, encoder=encoder)
    except (SourceUnavailable, CheckpointError, FileNotFoundError, ValueError) as e:
        print(f"{PROG}: cannot load {args.source}: {e}", file=sys.stderr)
        return 1
    loaded = time.perf_counter() - started
    config = model.config
    print(f"{args.source}: loaded in {loaded:.1f} s", file=out)
    print(f"  backbone: {config.backbone.n_layer} layers, width {config.backbone.n_embd}, {args.dtype} "
          f"on {args.device}", file=out)
    for modality, spec in config.modalities.items():
        options = ", ".join(f"{k}={v}" for k, v in spec.options.items())
        print(f"  {modality}: encoder {spec.encoder} ({spec.source or 'weights in the file'}"
              f"{'; ' + options if options else ''}); adapter {spec.adapter.to_json()}", file=out)
    decoding = config.generation or "the pipelines' own"
    print(f"  placement {config.placement}; decoding defaults {decoding}", file=out)
    print("  assumed or left out:", file=out)
    for note in model.notes or ["nothing (this project's own format)"]:
        print(f"    - {note}", file=out)
    try:
        answer(model, out, args.max_new_tokens)
    except MediaError as e:
        print(f"{PROG}: the example could not be read: {e}", file=sys.stderr)
        return 1
    return 0


def answer(model: ModRWKV, out, max_new_tokens: int | None = None) -> None:  # noqa: ANN001 - a text stream
    """The bundled example of the model's modality, answered with the model's own decoding defaults."""
    tokenizer = RWKVTokenizer()
    cap = {"max_new_tokens": max_new_tokens} if max_new_tokens else {}
    started = time.perf_counter()
    if "image" in model.encoders:
        image, question = IMAGE_EXAMPLE
        chat = ImageChat(model, tokenizer)
        chat.config = chat.config.with_(**cap)
        text = "".join(chat.send(question, [image]))
        print(f"  {image.name}, \"{question}\" -> {text.strip()!r}", file=out)
    elif "audio" in model.encoders:
        transcriber = Transcriber(model, tokenizer)
        transcriber.config = transcriber.config.with_(**cap)
        segments = transcriber.transcribe(str(AUDIO_EXAMPLE))
        text = " ".join(s.text for s in segments)
        print(f"  {AUDIO_EXAMPLE.name} -> {text.strip()!r}", file=out)
    else:
        print(f"  no example for a model that reads {', '.join(model.encoders)}", file=out)
        return
    print(f"  answered in {time.perf_counter() - started:.1f} s", file=out)


if __name__ == "__main__":
    sys.exit(main())
