"""A oneDNN-packed Linear layer gives the dense layer's product at every row count, through either of its paths
(packed weight, or the dense weight for prompt-sized inputs where the CPU's measurements chose that)."""
from __future__ import annotations

import pytest
import torch

from modrwkv.cpu import linears as cpu_linear

pytestmark = pytest.mark.skipif(not cpu_linear.packing_supported(torch.float32), reason="needs oneDNN (mkldnn)")


@pytest.mark.parametrize("max_rows", [None, 64], ids=["packed-always", "dense-above-64-rows"])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 1e-2)])
def test_a_packed_linear_gives_the_dense_product_at_every_row_count(monkeypatch, max_rows, dtype, tol):
    if not cpu_linear.packing_supported(dtype):
        pytest.skip(f"this torch build does not pack {dtype} weights here")
    monkeypatch.setattr(cpu_linear, "PACKED_MAX_ROWS", max_rows)
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(96, 80, generator=g).to(dtype)
    layer = cpu_linear.PackedLinear(weight)
    for rows in (1, 8, 65, 300):
        x = torch.randn(2, rows, 80, generator=g).to(dtype)
        want = x.double() @ weight.double().t()
        got = layer(x)
        assert got.dtype == dtype and got.shape == (2, rows, 96)
        assert ((got.double() - want).norm() / want.norm()).item() <= tol, rows
    assert torch.equal(layer.weight, weight)  # state_dict keeps the dense weight
