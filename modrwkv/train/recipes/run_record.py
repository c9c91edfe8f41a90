"""What each recipe records beside its figures: how its training run went and the machine it ran on."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modrwkv.bench.machine import machine_info


def loss_log(run: Path) -> list[dict[str, Any]]:
    """The trainer's `loss_log.jsonl` of the run folder `run`, one dict a logged step."""
    return [json.loads(line) for line in (run / "loss_log.jsonl").read_text().splitlines()]


def training_summary(run: Path) -> dict[str, Any]:
    """Steps, seconds and the last logged loss of the run folder `run`."""
    last = loss_log(run)[-1]
    return {"steps": last["step"], "seconds": round(last["seconds"]), "final_loss": round(last["loss"], 4)}


def machine() -> str:
    """The CPU, its cores, the torch threads used and torch's version, e.g. for a model card."""
    info = machine_info("cpu")
    return f"{info.cpu}, {info.cores} cores ({info.torch_threads} thread(s) used), torch {info.torch_version}"
