"""The RWKV-7 "Goose" language model (x070), numerically matching BlinkDL's reference.

Parameter names and shapes are BlinkDL's, so `state_dict()` is an official checkpoint.
The WKV recurrence itself lives in `kernels/`; this module only prepares its inputs.
"""
from __future__ import annotations

import ctypes
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from kernels import wkv7
from kernels.rwkv7 import cpu_recurrence
from modrwkv import native_prompt
from modrwkv.checkpoint import CheckpointError, infer_config, read_state_dict, to_blinkdl
from modrwkv.config import RWKV7Config
from modrwkv.cpu_linear import check_fp16_range, fp16_linears, fp16_weights_supported, pack_linears, packing_supported
from modrwkv.fused_decode import FusedDecoder
from modrwkv.merged_projections import MAX_ROWS as MERGED_MAX_ROWS
from modrwkv.merged_projections import LORAS, MIXES, MergedProjections, merge_projections
from modrwkv.quantization import Int8Linear, quantize_linears
from modrwkv.sources import resolve_source
from modrwkv.state import RWKVState

GROUP_NORM_EPS = 64e-5  # BlinkDL: ln_x eps is head_size * 1e-5

# Weight formats -> the dtype activations are computed in. "int8": weight-only int8 matrices, fp32 elsewhere.
# "fp16" on a CPU is weight-only too (see compute_dtype): CPUs have no fast fp16 arithmetic.
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.float32}


def parse_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """The dtype a weight format name (or a torch float dtype) stores its matrices in, int8 aside."""
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.bfloat16, torch.float16):
            raise ValueError(f"unsupported dtype {dtype}; use one of {', '.join(DTYPES)}")
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"unsupported dtype '{dtype}'; use one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def dtype_name(dtype: torch.dtype) -> str:
    """The name of a float dtype as a weight format: "fp32", "bf16" or "fp16"."""
    return next(name for name, d in DTYPES.items() if d == dtype)


def fp16_weights_only(dtype: str | torch.dtype, device: str | torch.device) -> bool:
    """Whether `dtype` on `device` keeps only its matrices in fp16 and computes in fp32 (fp16 on an x86 CPU)."""
    return parse_dtype(dtype) == torch.float16 and torch.device(device).type == "cpu" and fp16_weights_supported()


def compute_dtype(dtype: str | torch.dtype, device: str | torch.device = "cpu") -> torch.dtype:
    """The dtype activations are computed in for a weight format on a device.

    fp32 for "int8", and for "fp16" on CPUs with fbgemm's fp16-weight kernel (x86 with avx2), whose fp16 arithmetic
    is emulated: there "fp16" keeps its matrices in fp16 (half the bytes per token) and computes in fp32.
    """
    if fp16_weights_only(dtype, device):
        return torch.float32
    return parse_dtype(dtype)


def describe_dtype(dtype: str, device: str | torch.device = "cpu") -> str:
    """What a weight format stores and computes in on a device, e.g. "fp16 matrices, fp32 math" on a CPU."""
    stored = "int8" if dtype == "int8" else dtype_name(parse_dtype(dtype))
    return f"{stored} matrices, {dtype_name(compute_dtype(dtype, device))} math"


def default_cpu_dtype() -> str:
    """The weight format to use on this CPU when the user names none: the fastest that passes its accuracy tests,
    among those exact to fp32 up to the rounding of their weights where one is fast.

    bf16 where the CPU computes it natively (avx512_bf16 / AMX): on a 2-core Zen 4 EPYC (0.1B shape, README
    "Performance") it prefilled 1k tokens at 1,699 tok/s against fp16's 998 and int8's 937, and decoded at 153 tok/s
    (fp16 113-140, int8 182-197). Where bf16 is emulated (avx2 only) it runs
    ~100x slower than fp32; there fp16 weights with fp32 arithmetic win: on a 2-core avx2 EPYC, 0.1B shape,
    the three formats interleaved in one process decoded at best 29.1 tok/s (fp16), 25.0 (int8, whose x86 kernel
    is compute-bound here) and 14.6 (fp32), and prefilled 1k tokens at 527, 498 and 413 tok/s. Both fp16 and
    int8 have since gained the native decode step: fp16 decodes at 62-83 tok/s there and prefills at 606-674
    (README "Performance"), int8 at 102-123 and 562-617; int8, which rounds every weight to 8 bits, is offered,
    not chosen.
    """
    try:
        flags = set(open("/proc/cpuinfo").read().split())
    except OSError:
        flags = set()
    if flags & {"avx512_bf16", "amx_bf16"}:
        return "bf16"
    if fp16_weights_supported():
        return "fp16"
    return "int8" if hasattr(torch, "_weight_int8pack_mm") else "fp32"


def _shifted(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """The previous token's input at every position: the carried-over `shift` [B, C], then x[:, :-1]."""
    if x.shape[1] == 1:
        return shift.unsqueeze(1)
    return torch.cat((shift.unsqueeze(1), x[:, :-1]), dim=1)


def _token_mixes(x: torch.Tensor, shift: torch.Tensor, mixes: torch.Tensor, native: ctypes.CDLL | None) -> torch.Tensor:
    """[n, B, T, C]: each token's input mixed with the one before it (the carried-over `shift` [B, C] for the first)
    by each of the n mixes [n, 1, 1, C]."""
    if native is not None:
        return native_prompt.token_shift(native, x, shift, mixes)
    return torch.addcmul(x, _shifted(x, shift) - x, mixes.view(-1, 1, 1, x.shape[-1]))


def _vec(c: int) -> nn.Parameter:
    return nn.Parameter(torch.empty(1, 1, c))


class TimeMix(nn.Module):
    def __init__(self, cfg: RWKV7Config, layer_id: int):
        super().__init__()
        C, H, N = cfg.n_embd, cfg.n_head, cfg.head_size
        self.layer_id, self.n_head, self.head_size = layer_id, H, N
        self.x_r, self.x_w, self.x_k, self.x_v, self.x_a, self.x_g = (_vec(C) for _ in range(6))
        self.w0, self.w1, self.w2 = _vec(C), nn.Parameter(torch.empty(C, cfg.decay_rank)), nn.Parameter(torch.empty(cfg.decay_rank, C))
        self.a0, self.a1, self.a2 = _vec(C), nn.Parameter(torch.empty(C, cfg.a_rank)), nn.Parameter(torch.empty(cfg.a_rank, C))
        if layer_id > 0:  # layer 0's v0/v1/v2 exist in checkpoints but are never used
            self.v0, self.v1, self.v2 = _vec(C), nn.Parameter(torch.empty(C, cfg.v_rank)), nn.Parameter(torch.empty(cfg.v_rank, C))
        self.g1, self.g2 = nn.Parameter(torch.empty(C, cfg.gate_rank)), nn.Parameter(torch.empty(cfg.gate_rank, C))
        self.k_k, self.k_a, self.r_k = _vec(C), _vec(C), nn.Parameter(torch.empty(H, N))
        self.receptance = nn.Linear(C, C, bias=False)
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)
        self.ln_x = nn.GroupNorm(H, C, eps=GROUP_NORM_EPS)
        self.merged: MergedProjections | None = None  # set at load time for fp16 decode on a CPU (not a weight)
        self.native: ctypes.CDLL | None = None  # set at load time for CPU inference in fp32 (native_prompt)

    def forward(
        self, x: torch.Tensor, shift: torch.Tensor, wkv: torch.Tensor, v_first: torch.Tensor | None,
        mask: torch.Tensor | None, wkv_out: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, T, C = x.shape
        H, N = self.n_head, self.head_size
        native = native_prompt.usable(self.native, x)
        mix = torch.stack((self.x_r, self.x_k, self.x_w, self.x_a, self.x_v, self.x_g))  # MIXES order
        mixes = _token_mixes(x, shift, mix, native)
        if self.merged is not None and B * T <= MERGED_MAX_ROWS:  # fp16 decode on a CPU: two products, not eleven
            r, k, v, w, a, v_lora, g = (t.view(B, T, C) for t in self.merged(mixes.view(len(MIXES), B * T, C)))
        else:
            r, k, v, w, a, v_lora, g = self._projections(*mixes.unbind(0))
        if self.layer_id == 0:
            v_first = v
        w, k, v, a, b = self._kernel_inputs(w, k, v, a, v_first, v_lora, native)

        heads = lambda t: t.view(B, T, H, N)  # noqa: E731
        args = (heads(r), heads(w), heads(k), heads(v), heads(a), heads(b), wkv, mask, wkv_out)
        if torch.is_autocast_enabled(x.device.type):  # mixed-precision training: the kernels keep their own precision
            with torch.autocast(x.device.type, enabled=False):
                y, wkv = wkv7(*args)
        else:
            y, wkv = wkv7(*args)
        return self.output(self._gated_output(y, r, k, v, g, native)), wkv, v_first

    def _kernel_inputs(
        self, w: torch.Tensor, k: torch.Tensor, v: torch.Tensor, a: torch.Tensor, v_first: torch.Tensor,
        v_lora: torch.Tensor | None, native: ctypes.CDLL | None,
    ) -> tuple[torch.Tensor, ...]:
        """The recurrence's w (pre-activation), k, v, a and b, [B, T, C], from the products (w, a, v_lora: the LoRAs'
        outputs before their biases)."""
        if native is not None:
            return native_prompt.attention_inputs(native, self, w, k, v, a, v_first, v_lora)
        B, T, C = k.shape
        w = self.w0 + w  # decay pre-activation; the kernel makes the decay in fp32
        a = torch.sigmoid(self.a0 + a)
        kk = F.normalize((k * self.k_k).view(B, T, self.n_head, self.head_size), dim=-1, p=2.0).view(B, T, C)
        k = torch.addcmul(k, k * self.k_a, a - 1)  # k (1 + (a - 1) k_a), from the key before its normalised copy
        if self.layer_id > 0:
            v = v + (v_first - v) * torch.sigmoid(self.v0 + v_lora)
        return w, k, v, -kk, kk * a

    def _gated_output(
        self, y: torch.Tensor, r: torch.Tensor, k: torch.Tensor, v: torch.Tensor, g: torch.Tensor,
        native: ctypes.CDLL | None,
    ) -> torch.Tensor:
        """The heads' group-normed WKV output y [B, T, H, N] plus the bonus (r . k r_k) v, times the gate: [B, T, C]."""
        if native is not None:
            return native_prompt.attention_output(native, self, y, r, k, v, g)
        B, T, H, N = y.shape
        y = F.group_norm(y.reshape(B * T, H * N), H, self.ln_x.weight, self.ln_x.bias, eps=GROUP_NORM_EPS)
        y = y.view(B, T, H, N)
        bonus = (r.view(B, T, H, N) * k.view(B, T, H, N) * self.r_k).sum(dim=-1, keepdim=True)
        return torch.addcmul(y, bonus, v.view(B, T, H, N)).view(B, T, H * N) * g

    def _projections(
        self, xr: torch.Tensor, xk: torch.Tensor, xw: torch.Tensor, xa: torch.Tensor, xv: torch.Tensor, xg: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """r, k, v, then the LoRA outputs before their biases (the v LoRA's None in layer 0), each by its own matrices."""
        v_lora = (xv @ self.v1) @ self.v2 if self.layer_id > 0 else None
        return (self.receptance(xr), self.key(xk), self.value(xv), torch.tanh(xw @ self.w1) @ self.w2,
                (xa @ self.a1) @ self.a2, v_lora, torch.sigmoid(xg @ self.g1) @ self.g2)


class ChannelMix(nn.Module):
    def __init__(self, cfg: RWKV7Config):
        super().__init__()
        self.x_k = _vec(cfg.n_embd)
        self.key = nn.Linear(cfg.n_embd, cfg.dim_ffn, bias=False)
        self.value = nn.Linear(cfg.dim_ffn, cfg.n_embd, bias=False)
        self.native: ctypes.CDLL | None = None  # set at load time for CPU inference in fp32 (native_prompt)

    def forward(self, x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        k = self.key(_token_mixes(x, shift, self.x_k, native_prompt.usable(self.native, x))[0])
        if k.requires_grad:
            return self.value(torch.relu(k).square())
        # inference: in place, so the widest activation (4x the width) is not copied twice: a 1k-token prefill of
        # the 0.1B shape took 1,720 ms against 1,908 (medians of 6 interleaved rounds)
        return self.value(k.relu_().mul_(k))


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


class RWKV7(nn.Module):
    """RWKV-7 language model. `logits, state = model(tokens, state)`; the state carries on exactly."""

    def __init__(self, config: RWKV7Config):
        super().__init__()
        self.config = config
        self.emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.blocks = nn.ModuleList(Block(config, i) for i in range(config.n_layer))
        self.ln_out = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # training: recompute each block in the backward pass instead of keeping its activations
        self.gradient_checkpointing = False
        self.fused_decoder: FusedDecoder | None = None  # set at load time for fp16, bf16, int8 on a CPU (native kernels)

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_state_dict(
        cls,
        state: dict[str, torch.Tensor],
        dtype: str | torch.dtype = "fp32",
        device: str | torch.device = "cpu",
        pack_weights: bool = True,
    ) -> "RWKV7":
        """Build from tensors in BlinkDL or fla/HF layout; dimensions are read from the tensors.

        pack_weights: on CPU, lay the matrices out once for oneDNN or fbgemm (inference only; pass False to train,
        which also makes "fp16" on a CPU compute in fp16 rather than keep only its matrices in fp16).
        """
        state = to_blinkdl(state)
        config = infer_config(state)
        state = {k: v for k, v in state.items() if k not in ("blocks.0.att.v0", "blocks.0.att.v1", "blocks.0.att.v2")}
        with torch.device("meta"):
            model = cls(config)
        expected = model.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        if missing or unexpected:
            raise CheckpointError(
                f"RWKV-7 checkpoint does not match the x070 layout: missing {missing[:8]}, unexpected {unexpected[:8]}"
            )
        for k, t in expected.items():
            if state[k].shape != t.shape:
                raise CheckpointError(f"'{k}' has shape {tuple(state[k].shape)}, expected {tuple(t.shape)} for {config}")
        cpu_inference = pack_weights and torch.device(device).type == "cpu"
        fp16_weights = cpu_inference and fp16_weights_only(dtype, device)
        compute = torch.float32 if fp16_weights else parse_dtype(dtype)
        model.load_state_dict({k: v.to(device=device, dtype=compute) for k, v in state.items()}, assign=True)
        if dtype == "int8":
            quantize_linears(model)
        if fp16_weights or (cpu_inference and dtype == "int8"):
            _round_loras_to_fp16(model)  # decode reads them in fp16: prompts then compute with the same values
        if fp16_weights:
            fp16_linears(model)
        elif cpu_inference:
            if packing_supported(compute):
                pack_linears(model)
            else:
                _store_input_major(model)
        if cpu_inference:
            # fp16, bf16 and int8 matrices: fp32 arithmetic on them, one native call per decoded token
            model.fused_decoder = FusedDecoder.of(model)
            if fp16_weights and model.fused_decoder is None:  # PyTorch's kernels: fewer, merged one-row products
                merge_projections(model)
            prompt_ops = native_prompt.library(config.head_size, compute)
            for block in model.blocks:
                block.att.native = block.ffn.native = prompt_ops
            cpu_recurrence.library()  # the C recurrence is built (once per machine) now, not in the first prompt: ~1 s
        return model.eval()

    @classmethod
    def from_pretrained(
        cls,
        src: str | Path,
        dtype: str | torch.dtype = "fp32",
        device: str | torch.device = "cpu",
        pack_weights: bool = True,
    ) -> "RWKV7":
        """Load a BlinkDL `.pth`, a safetensors file or folder (BlinkDL or fla/HF names), or a Hugging Face repo id.

        dtype: "fp32", "bf16", "fp16", or "int8" (weight-only int8 matrices, fp32 activations and state); on an x86
        CPU "fp16" is weight-only too (fp16 matrices, fp32 arithmetic: see `compute_dtype`).
        """
        return cls.from_state_dict(read_state_dict(resolve_source(src)), dtype=dtype, device=device, pack_weights=pack_weights)

    def save_pretrained(self, folder: str | Path) -> Path:
        """`model.safetensors` (BlinkDL names) + `config.json`; `from_pretrained(folder)` reads it back."""
        from safetensors.torch import save_file

        if any(isinstance(m, Int8Linear) for m in self.modules()):
            raise ValueError("an int8 model cannot be saved as a checkpoint: save the fp32/bf16 one, quantise at load time")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(folder / "model.safetensors"))
        meta = {"architecture": "rwkv7", "dtype": str(self.dtype).removeprefix("torch."), **self.config.to_dict()}
        (folder / "config.json").write_text(json.dumps(meta, indent=2))
        return folder

    @property
    def dtype(self) -> torch.dtype:
        return self.emb.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.emb.weight.device

    def new_state(self, batch_size: int = 1) -> RWKVState:
        return RWKVState.zeros(self.config, batch_size, dtype=self.dtype, device=self.device)

    # -- inference ------------------------------------------------------------------------------

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

        if self.fused_decoder is not None and T == 1 and mask is None and not torch.is_grad_enabled():
            x, new_state = self.fused_decoder(embeds[:, 0], state)
            x = self.ln_out(x.to(self.dtype))
            return (x if hidden else self.fused_decoder.logits(x).to(self.dtype)).unsqueeze(1), new_state

        x = embeds.to(self.dtype)
        rows = torch.arange(B, device=x.device)
        last_of = (lambda t: t[rows, lengths - 1]) if lengths is not None else (lambda t: t[:, -1])
        att_shift, ffn_shift, wkv_out = [], [], []
        v_first = None
        recompute = self.gradient_checkpointing and torch.is_grad_enabled()
        # inference: every layer writes its new wkv state into one tensor (stacking them is a copy of the whole
        # state per token: 19 MB for 8 sequences of the 0.1B model)
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
        return self._output(x, hidden), new_state

    def _output(self, x: torch.Tensor, hidden: bool) -> torch.Tensor:
        # hidden: for task heads (e.g. forecasting) that read the final normalised states instead of logits
        return self.ln_out(x) if hidden else self.head(self.ln_out(x))

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


LORA_NAMES = tuple(f"{lora}{i}" for lora in LORAS for i in (1, 2))  # w1, w2, a1, a2, v1, v2, g1, g2


def _round_loras_to_fp16(model: nn.Module) -> None:
    """fp16 or int8 weights on a CPU: the LoRA matrices hold fp16 values too (kept in fp32 storage for their own GEMMs).

    Decode multiplies them in fp16 (in the native step's tiled copies, or the merged projections without it); prefill
    then computes with the very same values."""
    with torch.no_grad():
        for block in model.blocks:
            for name in LORA_NAMES:
                if (lora := getattr(block.att, name, None)) is not None:
                    check_fp16_range(lora, f"blocks.{block.layer_id}.att.{name}")
                    lora.copy_(lora.half().float())


def _store_input_major(model: nn.Module) -> None:
    """Where oneDNN packing is unavailable: keep Linear weights in memory as [in, out] behind a transposed view.

    MKL's one-row GEMV streams that layout ~20% faster on the 2-core CPU measured here (x @ W, as BlinkDL's rwkv
    package stores them). state_dict() is unchanged.
    """
    for module in model.modules():
        if isinstance(module, nn.Linear):
            module.weight = nn.Parameter(module.weight.detach().t().contiguous().t(), requires_grad=module.weight.requires_grad)


def _describe(x: object) -> str:
    if isinstance(x, torch.Tensor):
        return f"{x.dtype} tensor of shape {tuple(x.shape)}"
    return type(x).__name__
