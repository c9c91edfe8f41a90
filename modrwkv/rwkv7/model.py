"""The RWKV-7 "Goose" language model (x070), numerically matching BlinkDL's reference.

The math only, top to bottom: parameter names and shapes are BlinkDL's, so `state_dict()` is an official checkpoint.
The WKV recurrence is `kernels.wkv7`; reading checkpoints and weight formats is `loading`; the CPU fast paths
(`modrwkv.cpu.prepare_for_cpu`) attach from outside by overriding the steps below (token_mixes, projections,
kernel_inputs, gated_output, _forward_layers) in subclasses.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from kernels import wkv7
from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.loading import PretrainedRWKV7
from modrwkv.rwkv7.state import RWKVState

GROUP_NORM_EPS = 64e-5  # BlinkDL: ln_x eps is head_size * 1e-5
MIXES = ("r", "k", "w", "a", "v", "g")  # the order of TimeMix's token-shift mixes: the LoRA inputs last, together
LORAS = ("w", "a", "v", "g")  # MIXES[2:]
LORA_NAMES = tuple(f"{lora}{i}" for lora in LORAS for i in (1, 2))  # w1, w2, a1, a2, v1, v2, g1, g2


def _shifted(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """The previous token's input at every position: the carried-over `shift` [B, C], then x[:, :-1]."""
    if x.shape[1] == 1:
        return shift.unsqueeze(1)
    return torch.cat((shift.unsqueeze(1), x[:, :-1]), dim=1)


def token_mixes(x: torch.Tensor, shift: torch.Tensor, mixes: torch.Tensor) -> torch.Tensor:
    """[n, B, T, C]: each token's input x [B, T, C] mixed with the one before it (the carried-over `shift` [B, C] for
    the first) by each of the n mixes [n, 1, 1, C]."""
    return torch.addcmul(x, _shifted(x, shift) - x, mixes.view(-1, 1, 1, x.shape[-1]))


def _vec(c: int) -> nn.Parameter:
    return nn.Parameter(torch.empty(1, 1, c))


class TimeMix(nn.Module):
    def __init__(self, cfg: RWKV7Config, layer_id: int):
        super().__init__()
        C, H, N = cfg.n_embd, cfg.n_head, cfg.head_size
        self.layer_id, self.n_head, self.head_size = layer_id, H, N
        self.x_r, self.x_w, self.x_k, self.x_v, self.x_a, self.x_g = (_vec(C) for _ in range(6))
        self.w0, self.w1, self.w2 = (
            _vec(C), nn.Parameter(torch.empty(C, cfg.decay_rank)), nn.Parameter(torch.empty(cfg.decay_rank, C))
        )
        self.a0, self.a1, self.a2 = (
            _vec(C), nn.Parameter(torch.empty(C, cfg.a_rank)), nn.Parameter(torch.empty(cfg.a_rank, C))
        )
        if layer_id > 0:  # layer 0's v0/v1/v2 exist in checkpoints but are never used
            self.v0, self.v1, self.v2 = (
                _vec(C), nn.Parameter(torch.empty(C, cfg.v_rank)), nn.Parameter(torch.empty(cfg.v_rank, C))
            )
        self.g1, self.g2 = nn.Parameter(torch.empty(C, cfg.gate_rank)), nn.Parameter(torch.empty(cfg.gate_rank, C))
        self.k_k, self.k_a, self.r_k = _vec(C), _vec(C), nn.Parameter(torch.empty(H, N))
        self.receptance = nn.Linear(C, C, bias=False)
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)
        self.ln_x = nn.GroupNorm(H, C, eps=GROUP_NORM_EPS)

    def forward(
        self, x: torch.Tensor, shift: torch.Tensor, wkv: torch.Tensor, v_first: torch.Tensor | None,
        mask: torch.Tensor | None, wkv_out: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, T, C = x.shape
        H, N = self.n_head, self.head_size
        r, k, v, w, a, v_lora, g = self.projections(self.token_mixes(x, shift))
        if self.layer_id == 0:
            v_first = v
        w, k, v, a, b = self.kernel_inputs(w, k, v, a, v_first, v_lora)

        heads = lambda t: t.view(B, T, H, N)  # noqa: E731
        args = (heads(r), heads(w), heads(k), heads(v), heads(a), heads(b), wkv, mask, wkv_out)
        if torch.is_autocast_enabled(x.device.type):  # mixed-precision training: the kernels keep their own precision
            with torch.autocast(x.device.type, enabled=False):
                y, wkv = wkv7(*args)
        else:
            y, wkv = wkv7(*args)
        return self.output(self.gated_output(y, r, k, v, g)), wkv, v_first

    def mix_weights(self) -> torch.Tensor:
        """[6, 1, 1, C]: the token-shift mixes x_r, x_k, x_w, x_a, x_v, x_g (MIXES order)."""
        return torch.stack([getattr(self, f"x_{name}") for name in MIXES])

    def token_mixes(self, x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """[6, B, T, C]: the inputs of r, k, w, a, v and g (MIXES order), each token mixed with the one before."""
        return token_mixes(x, shift, self.mix_weights())

    def projections(self, mixes: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        """r, k, v, then the LoRAs' outputs before their biases (w, a, v_lora, g; v_lora None in layer 0)."""
        xr, xk, xw, xa, xv, xg = mixes.unbind(0)
        v_lora = (xv @ self.v1) @ self.v2 if self.layer_id > 0 else None
        return (self.receptance(xr), self.key(xk), self.value(xv), torch.tanh(xw @ self.w1) @ self.w2,
                (xa @ self.a1) @ self.a2, v_lora, torch.sigmoid(xg @ self.g1) @ self.g2)

    def kernel_inputs(
        self, w: torch.Tensor, k: torch.Tensor, v: torch.Tensor, a: torch.Tensor, v_first: torch.Tensor,
        v_lora: torch.Tensor | None,
    ) -> tuple[torch.Tensor, ...]:
        """The recurrence's w (pre-activation), k, v, a and b, [B, T, C], from the products."""
        B, T, C = k.shape
        w = self.w0 + w  # decay pre-activation; the kernel makes the decay in fp32
        a = torch.sigmoid(self.a0 + a)
        kk = F.normalize((k * self.k_k).view(B, T, self.n_head, self.head_size), dim=-1, p=2.0).view(B, T, C)
        k = torch.addcmul(k, k * self.k_a, a - 1)  # k (1 + (a - 1) k_a), from the key before its normalised copy
        if self.layer_id > 0:
            v = v + (v_first - v) * torch.sigmoid(self.v0 + v_lora)
        return w, k, v, -kk, kk * a

    def gated_output(
        self, y: torch.Tensor, r: torch.Tensor, k: torch.Tensor, v: torch.Tensor, g: torch.Tensor
    ) -> torch.Tensor:
        """The heads' group-normed WKV output y [B, T, H, N] plus the bonus (r . k r_k) v, times the gate: [B, T, C]."""
        B, T, H, N = y.shape
        y = F.group_norm(y.reshape(B * T, H * N), H, self.ln_x.weight, self.ln_x.bias, eps=GROUP_NORM_EPS)
        y = y.view(B, T, H, N)
        bonus = (r.view(B, T, H, N) * k.view(B, T, H, N) * self.r_k).sum(dim=-1, keepdim=True)
        return torch.addcmul(y, bonus, v.view(B, T, H, N)).view(B, T, H * N) * g


class ChannelMix(nn.Module):
    def __init__(self, cfg: RWKV7Config):
        super().__init__()
        self.x_k = _vec(cfg.n_embd)
        self.key = nn.Linear(cfg.n_embd, cfg.dim_ffn, bias=False)
        self.value = nn.Linear(cfg.dim_ffn, cfg.n_embd, bias=False)

    def forward(self, x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        k = self.key(self.token_mix(x, shift))
        if k.requires_grad:
            return self.value(torch.relu(k).square())
        return self.value(k.relu_().mul_(k))  # inference: in place, the widest activation (4x the width) not copied

    def token_mix(self, x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """[B, T, C]: each token's input mixed with the one before it by x_k."""
        return token_mixes(x, shift, self.x_k)[0]


class Block(nn.Module):
    def __init__(self, cfg: RWKV7Config, layer_id: int):
        super().__init__()
        self.layer_id = layer_id
        if layer_id == 0:
            self.ln0 = nn.LayerNorm(cfg.n_embd)
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.att = TimeMix(cfg, layer_id)
        self.ffn = ChannelMix(cfg)

    def forward(
        self, x: torch.Tensor, att_shift: torch.Tensor, ffn_shift: torch.Tensor, wkv: torch.Tensor,
        v_first: torch.Tensor | None, mask: torch.Tensor | None, wkv_out: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x out, time-mix input, channel-mix input, wkv state, v_first); the two inputs give the next shift states.

        wkv_out: where to write the new wkv state (inference), else a fresh tensor."""
        if self.layer_id == 0:
            x = self.ln0(x)
        xa = self.ln1(x)
        dx, wkv, v_first = self.att(xa, att_shift, wkv, v_first, mask, wkv_out)
        x = x + dx
        xf = self.ln2(x)
        return x + self.ffn(xf, ffn_shift), xa, xf, wkv, v_first


class RWKV7(PretrainedRWKV7, nn.Module):
    """RWKV-7 language model. `logits, state = model(tokens, state)`; the state carries on exactly.

    `RWKV7.from_pretrained(src, dtype=...)` loads a checkpoint (see `loading`)."""

    def __init__(self, config: RWKV7Config):
        super().__init__()
        self.config = config
        self.emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.blocks = nn.ModuleList(Block(config, i) for i in range(config.n_layer))
        self.ln_out = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # training: recompute each block in the backward pass instead of keeping its activations
        self.gradient_checkpointing = False

    @property
    def dtype(self) -> torch.dtype:
        return self.emb.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.emb.weight.device

    def new_state(self, batch_size: int = 1) -> RWKVState:
        return RWKVState.zeros(self.config, batch_size, dtype=self.dtype, device=self.device)

    def forward(
        self,
        tokens: torch.Tensor,
        state: RWKVState | None = None,
        *,
        lengths: torch.Tensor | None = None,
        last_only: bool = False,
    ) -> tuple[torch.Tensor, RWKVState]:
        """tokens: LongTensor [B, T] -> logits [B, T, V] (or [B, 1, V] with last_only) and the new state.

        lengths: valid tokens per row for right-padded batches; padding leaves that row's state untouched,
        and logits at padded positions are meaningless. The input state is never modified.
        """
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.dtype not in (torch.long, torch.int):
            raise ValueError(f"tokens must be an integer tensor [B, T], got {_describe(tokens)}")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.config.vocab_size):
            bad = tokens[(tokens < 0) | (tokens >= self.config.vocab_size)][0].item()
            raise ValueError(f"token id {bad} is outside the vocabulary [0, {self.config.vocab_size})")
        return self.forward_embeds(self.emb(tokens.to(self.device)), state, lengths=lengths, last_only=last_only)

    def forward_embeds(
        self,
        embeds: torch.Tensor,
        state: RWKVState | None = None,
        *,
        lengths: torch.Tensor | None = None,
        last_only: bool = False,
        hidden: bool = False,
    ) -> tuple[torch.Tensor, RWKVState]:
        """Same as `forward`, from input embeddings [B, T, C] (text embeddings and modality tokens alike).

        hidden: return the final normalised hidden states [B, T, C] (ln_out's output) instead of logits.
        """
        if not isinstance(embeds, torch.Tensor) or embeds.dim() != 3 or embeds.shape[-1] != self.config.n_embd:
            raise ValueError(f"embeds must be [B, T, {self.config.n_embd}], got {_describe(embeds)}")
        B, T, _ = embeds.shape
        if state is None:
            state = self.new_state(B)
        elif state.batch_size != B:
            raise ValueError(f"state holds {state.batch_size} sequences but the input has {B}")
        mask, lengths = self._mask(lengths, B, T, embeds.device)
        if T == 0:
            return embeds.new_zeros(B, 0, self.config.vocab_size), state.clone()
        return self._forward_layers(embeds, state, mask, lengths, last_only, hidden)

    def _forward_layers(
        self, embeds: torch.Tensor, state: RWKVState, mask: torch.Tensor | None, lengths: torch.Tensor | None,
        last_only: bool, hidden: bool,
    ) -> tuple[torch.Tensor, RWKVState]:
        """The checked inputs through every block, then the output: (logits or hidden states, new state)."""
        x = embeds.to(self.dtype)
        B = x.shape[0]
        rows = torch.arange(B, device=x.device)
        last_of = (lambda t: t[rows, lengths - 1]) if lengths is not None else (lambda t: t[:, -1])
        att_shift, ffn_shift, wkv_out = [], [], []
        v_first = None
        recompute = self.gradient_checkpointing and torch.is_grad_enabled()
        # inference: every layer writes its new wkv state into one tensor (stacking them copies the whole state)
        wkv_all = None if torch.is_grad_enabled() else torch.empty_like(state.wkv)
        for i, block in enumerate(self.blocks):
            args = (x, state.att_shift[i], state.ffn_shift[i], state.wkv[i], v_first, mask)
            if recompute:
                x, xa, xf, s, v_first = checkpoint(block, *args, use_reentrant=False)
            else:
                x, xa, xf, s, v_first = block(*args, wkv_out=None if wkv_all is None else wkv_all[i])
            att_shift.append(last_of(xa))
            ffn_shift.append(last_of(xf))
            wkv_out.append(s)
        new_state = RWKVState(
            torch.stack(att_shift), torch.stack(ffn_shift), torch.stack(wkv_out) if wkv_all is None else wkv_all
        )
        if last_only:
            x = last_of(x).unsqueeze(1)
        # hidden: for task heads (e.g. forecasting) that read the final normalised states instead of logits
        return self.ln_out(x) if hidden else self.head(self.ln_out(x)), new_state

    @staticmethod
    def _mask(
        lengths: torch.Tensor | None, B: int, T: int, device: torch.device
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if lengths is None:
            return None, None
        lengths = torch.as_tensor(lengths, dtype=torch.long, device=device)
        if lengths.shape != (B,) or (B and (int(lengths.min()) < 1 or int(lengths.max()) > T)):
            raise ValueError(f"lengths must be [{B}] with values in 1..{T}, got {lengths.tolist()}")
        if int(lengths.min()) == T:
            return None, None
        return torch.arange(T, device=device)[None, :] < lengths[:, None], lengths


def _describe(x: object) -> str:
    if isinstance(x, torch.Tensor):
        return f"{x.dtype} tensor of shape {tuple(x.shape)}"
    return type(x).__name__
