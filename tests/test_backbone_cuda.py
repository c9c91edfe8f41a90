"""RWKV7 on CUDA (the compiled Triton kernels) gives what it gives on the CPU (the torch paths).

Skipped without a GPU, so CI (CPU only) never runs it; on a GPU machine run it with TRITON_INTERPRET=0.
"""
from __future__ import annotations

import os

import pytest
import torch

from modrwkv import RWKV7
from modrwkv.generation.cuda_graph import decode_step
from tests.wkv_reference import rel_rms

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1",
    reason="needs a CUDA GPU with compiled Triton kernels (TRITON_INTERPRET=0)",
)

PROMPT = torch.randint(0, 65536, (2, 300), generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def models(small_weights) -> tuple[RWKV7, RWKV7]:
    return RWKV7.from_state_dict(small_weights), RWKV7.from_state_dict(small_weights, device="cuda")


def test_prefill_and_decode_on_cuda_match_the_cpu_in_fp32(models):
    cpu, gpu = models
    with torch.inference_mode():
        want, want_state = cpu(PROMPT)
        got, got_state = gpu(PROMPT.cuda())
        assert rel_rms(got.cpu(), want.double()) <= 1e-4
        assert rel_rms(got_state.wkv.cpu(), want_state.wkv.double()) <= 1e-4
        step = torch.tensor([[11], [22]])
        want_next, _ = cpu(step, want_state)
        got_next, _ = gpu(step.cuda(), got_state)  # T = 1: the fused recurrent kernel's decode variant
        assert rel_rms(got_next.cpu(), want_next.double()) <= 1e-4


def test_training_gradients_on_cuda_match_the_cpu(small_weights):
    grads = []
    for device in ("cpu", "cuda"):
        model = RWKV7.from_state_dict(small_weights, device=device, pack_weights=False)
        logits, _ = model(PROMPT[:, :100].to(device))
        torch.nn.functional.cross_entropy(
            logits[:, :-1].flatten(0, 1), PROMPT[:, 1:100].flatten().to(device)
        ).backward()
        grads.append({n: p.grad.cpu() for n, p in model.named_parameters() if p.grad is not None})
    cpu, gpu = grads
    assert cpu.keys() == gpu.keys()
    for name in cpu:
        assert rel_rms(gpu[name], cpu[name].double()) <= 1e-3, name


def test_bf16_on_cuda_stays_close_to_fp32(models, small_weights):
    cpu, _ = models
    bf16 = RWKV7.from_state_dict(small_weights, dtype="bf16", device="cuda")
    with torch.inference_mode():
        want, _ = cpu(PROMPT)
        got, _ = bf16(PROMPT.cuda())
    assert rel_rms(got.float().cpu(), want.double()) <= 5e-2


def test_graph_replayed_decode_gives_the_eager_steps_logits_and_state(models):
    _, gpu = models
    with torch.inference_mode():
        logits, state = gpu(PROMPT.cuda())
        eager_state = graph_state = state
        tokens = logits[:, -1].argmax(-1)
        for _ in range(5):  # the first call captures, the rest replay on new inputs
            want, eager_state = gpu(tokens[:, None], eager_state)
            got, graph_state = decode_step(gpu, tokens, graph_state)
            # the same kernels on the same shapes; cuBLAS may pick another algorithm while capturing
            assert rel_rms(got, want[:, 0].double()) <= 1e-6
            assert rel_rms(graph_state.wkv, eager_state.wkv.double()) <= 1e-6
            assert rel_rms(graph_state.att_shift, eager_state.att_shift.double()) <= 1e-6
            tokens = got.argmax(-1)


def test_graph_decode_keeps_the_given_state_and_serves_each_batch_size(models):
    _, gpu = models
    with torch.inference_mode():
        _, state = gpu(PROMPT.cuda())
        before = state.clone()
        two, _ = decode_step(gpu, torch.tensor([5, 6], device="cuda"), state)
        one, _ = decode_step(gpu, torch.tensor([6], device="cuda"), state.select([1]))
    assert torch.equal(state.wkv, before.wkv)
    assert rel_rms(one[0], two[1].double()) <= 1e-6
