"""One decode step of RWKV-7, replayed on CUDA from a captured CUDA graph: one launch per token instead of hundreds.

A one-token forward is many small kernels. On a GPU, launching them one by one from Python costs far more than running
them, leaving a small model far below the GPU's memory-bandwidth limit. A graph captured once per batch size replays
the same kernels on the same buffers, so logits and state equal the eager step's (figures in docs/performance.md).
On a CPU there is nothing to save and `decode_step` is the plain forward.
"""
from __future__ import annotations

import threading
import weakref

import torch

from modrwkv.rwkv7.model import RWKV7
from modrwkv.rwkv7.state import RWKVState

# Captures and replays share static buffers: one at a time across threads (the app serves several requests on a GPU).
_LOCK = threading.Lock()
_GRAPHS: weakref.WeakKeyDictionary[RWKV7, dict[tuple, DecodeGraph]] = weakref.WeakKeyDictionary()


class DecodeGraph:
    """`model(tokens[:, None], state)` for one batch size, captured once; holds no reference to the model."""

    @torch.inference_mode()
    def __init__(self, model: RWKV7, batch_size: int):
        device = model.device
        self.tokens = torch.zeros(batch_size, 1, dtype=torch.long, device=device)
        self.state_in = model.new_state(batch_size)
        step = lambda: model.forward_embeds(model.emb(self.tokens), self.state_in)  # noqa: E731
        # warm-up on a side stream: first calls compile kernels and allocate workspaces, which a capture must not do
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(2):
                step()
        torch.cuda.current_stream(device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
            self.logits, self.state_out = step()

    @torch.inference_mode()
    def __call__(self, tokens: torch.Tensor, state: RWKVState) -> tuple[torch.Tensor, RWKVState]:
        self.tokens.copy_(tokens.view(-1, 1))
        for mine, given in zip(_parts(self.state_in), _parts(state)):
            mine.copy_(given)
        self.graph.replay()
        # copies: the next replay overwrites the graph's outputs
        return self.logits[:, 0].clone(), self.state_out.clone()


def _parts(state: RWKVState) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return state.att_shift, state.ffn_shift, state.wkv


def decode_step(model: RWKV7, tokens: torch.Tensor, state: RWKVState) -> tuple[torch.Tensor, RWKVState]:
    """Feed one token per sequence: tokens [B] (valid ids) -> logits [B, V] and the new state (the given one is kept).

    On CUDA, without autograd, the step replays a graph captured on first use for this batch size and these weights.
    """
    if model.device.type != "cuda" or torch.is_grad_enabled():
        out, state = model(tokens.view(-1, 1), state)
        return out[:, 0], state
    key = (state.batch_size, model.dtype, model.emb.weight.data_ptr())
    # captures and replays run on the model's GPU, whichever one is current in the calling thread
    with _LOCK, torch.cuda.device(model.device):
        graphs = _GRAPHS.setdefault(model, {})
        if key not in graphs:
            graphs[key] = DecodeGraph(model, state.batch_size)
        return graphs[key](tokens, state)
