"""`python -m modrwkv.train CONFIG.yaml [--resume [CHECKPOINT]]`; with several GPUs:
`accelerate launch --num_processes N -m modrwkv.train CONFIG.yaml`."""
from __future__ import annotations

import argparse
import dataclasses
import sys

from modrwkv.train import ConfigError, DataError, load_config, train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modrwkv.train",
                                     description="Train ModRWKV: phase align or instruct, as the YAML config says.")
    parser.add_argument("config", help="YAML training config")
    parser.add_argument("--resume", nargs="?", const="latest", metavar="CHECKPOINT",
                        help="continue from a checkpoint folder, or (no value) the newest in output_dir")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        if args.resume is not None:
            config = dataclasses.replace(config, resume=args.resume)
        train(config)
    except (ConfigError, DataError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
