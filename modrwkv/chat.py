"""Text chat with an RWKV-7 model in the terminal: `python -m modrwkv.chat --model SRC`.

Each turn feeds only the new tokens: the figures after every answer show it.
"""
from __future__ import annotations

import argparse
import sys

from modrwkv.generation.chat_session import ChatSession
from modrwkv.generation.sampling import CHAT_DEFAULTS
from modrwkv.rwkv7.loading import DTYPES, default_cpu_dtype
from modrwkv.rwkv7.model import RWKV7
from modrwkv.tokenizer import RWKVTokenizer

HELP = "commands: /reset forgets the conversation, /exit quits (Ctrl-D too); Ctrl-C stops an answer"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m modrwkv.chat", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="BlinkDL .pth, safetensors file or folder, or Hugging Face repo id")
    p.add_argument("--dtype", default=default_cpu_dtype(), choices=list(DTYPES),
                   help="default %(default)s: this CPU's default format (docs/performance.md); int8 decodes "
                        "faster, its logits within 2%% of fp32's")
    p.add_argument("--device", default="cpu")
    p.add_argument("--system", default=None, help="a system prompt for the conversation")
    p.add_argument("--temperature", type=float, default=CHAT_DEFAULTS.temperature)
    p.add_argument("--top-p", type=float, default=CHAT_DEFAULTS.top_p)
    p.add_argument("--top-k", type=int, default=CHAT_DEFAULTS.top_k)
    p.add_argument("--presence-penalty", type=float, default=CHAT_DEFAULTS.presence_penalty)
    p.add_argument("--frequency-penalty", type=float, default=CHAT_DEFAULTS.frequency_penalty)
    p.add_argument("--max-new-tokens", type=int, default=500)
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args(argv)

    try:
        config = CHAT_DEFAULTS.with_(
            temperature=args.temperature, top_p=args.top_p, top_k=args.top_k, presence_penalty=args.presence_penalty,
            frequency_penalty=args.frequency_penalty, max_new_tokens=args.max_new_tokens, seed=args.seed,
        )
        model = RWKV7.from_pretrained(args.model, dtype=args.dtype, device=args.device)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cfg = model.config
    print(f"RWKV-7 L{cfg.n_layer} D{cfg.n_embd} on {args.device} {args.dtype}. {HELP}")
    session = ChatSession(model, RWKVTokenizer(), config=config, system=args.system)

    while True:
        try:
            message = input("\nUser: ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        command = message.strip()
        if command in ("/exit", "/quit"):
            return 0
        if command == "/reset":
            session.reset()
            print("(conversation reset)")
            continue
        if not command:
            print("(empty message: type something, or /exit)")
            continue
        print("\nAssistant: ", end="", flush=True)
        answer = session.send(message)
        try:
            for piece in answer:
                print(piece, end="", flush=True)
        except KeyboardInterrupt:
            answer.close()
            print(" [stopped]", end="")
        s = session.last_stats
        print(
            f"\n[{s.prompt_tokens} new prompt tokens in {s.prefill_seconds:.2f}s, {s.generated_tokens} generated at "
            f"{s.decode_tokens_per_second:.1f} tok/s, first token after {s.time_to_first_token:.2f}s; "
            f"transcript {len(session.tokens)} tokens, state {session.state_bytes / 2**20:.2f} MiB]"
        )


if __name__ == "__main__":
    sys.exit(main())
