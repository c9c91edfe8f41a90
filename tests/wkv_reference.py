"""RWKV-7-like random inputs for the WKV kernel tests, and their comparison with the float64 reference
(`kernels.rwkv7.naive`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from kernels.rwkv7.naive import wkv7_naive as reference

B, H, N = 2, 2, 64


def make_inputs(T: int, seed: int = 0) -> list[torch.Tensor]:
    """RWKV-7-like inputs: a = -kk, b = kk * sigmoid(.) with kk unit-norm per head (each step contractive),
    and a random initial state."""
    g = torch.Generator().manual_seed(seed)
    randn = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    r, k, v = randn(B, T, H, N) * 0.5, randn(B, T, H, N) * 0.5, randn(B, T, H, N) * 0.5
    w = randn(B, T, H, N) * 2
    kk = F.normalize(randn(B, T, H, N), dim=-1)
    b = kk * torch.sigmoid(randn(B, T, H, N))
    return [r, w, k, v, -kk, b, randn(B, H, N, N)]


def rel_rms(x: torch.Tensor, ref: torch.Tensor) -> float:
    return ((x.double() - ref).pow(2).mean().sqrt() / ref.pow(2).mean().sqrt()).item()


def assert_matches_reference(got: tuple[torch.Tensor, torch.Tensor], inputs: list[torch.Tensor], mask=None,
                             tol: float = 1e-5) -> None:
    """A kernel's (y, final state) within `tol` relative RMS error of the float64 reference on the same inputs."""
    y_ref, S_ref = reference(*inputs, mask)
    y, S = got
    assert rel_rms(y, y_ref) <= tol, f"y: relative RMS error {rel_rms(y, y_ref):.2e}"
    assert rel_rms(S, S_ref) <= tol, f"state: relative RMS error {rel_rms(S, S_ref):.2e}"
