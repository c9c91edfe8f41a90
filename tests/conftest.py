"""Shared fixtures: small random RWKV-7 checkpoints written in the official layouts, and the reference model."""
from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # no test may use a GPU: Triton kernels run in the CPU interpreter
from pathlib import Path

import pytest
import torch

from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.random_weights import random_state_dict

SMALL = RWKV7Config.shape(n_layer=3, n_embd=128, head_size=64)  # full 65536 vocab, two heads


@pytest.fixture(scope="session")
def small_weights() -> dict[str, torch.Tensor]:
    return random_state_dict(SMALL, seed=1234)


@pytest.fixture(scope="session")
def blinkdl_pth(tmp_path_factory: pytest.TempPathFactory, small_weights: dict[str, torch.Tensor]) -> Path:
    """A random checkpoint saved exactly as BlinkDL's releases are: a plain state dict in a .pth file."""
    path = tmp_path_factory.mktemp("blinkdl") / "RWKV-x070-test-ctx4096.pth"
    torch.save(small_weights, path)
    return path


@pytest.fixture(scope="session")
def reference_model(blinkdl_pth: Path):
    """BlinkDL's own `rwkv` package (RWKV_x070, cpu fp32) on the same file: the numerical reference."""
    os.environ["RWKV_V7_ON"] = "1"
    os.environ.setdefault("RWKV_JIT_ON", "1")
    from rwkv.model import RWKV

    return RWKV(model=str(blinkdl_pth.with_suffix("")), strategy="cpu fp32")


@pytest.fixture
def fresh_native_build():
    """Native kernels looked up afresh in the test (after it changes the environment) and again after it, so that
    what the test saw (e.g. "cannot be built") is not cached for the tests that follow."""
    from kernels.rwkv7 import build

    build.load.cache_clear()
    yield
    build.load.cache_clear()


@pytest.fixture
def without_native_kernels(monkeypatch: pytest.MonkeyPatch, fresh_native_build):
    """Models loaded in the test decode with PyTorch's kernels only, as where no C compiler is found."""
    monkeypatch.setenv("MODRWKV_NATIVE", "0")
