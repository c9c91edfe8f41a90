"""What the machine can do: GEMM FLOP/s and read bandwidth, and the throughput limits they imply for a model."""
from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from modrwkv.bench.timing import timed

GEMM_MAX = 2048  # n x n x n matmuls grow up to this size ...
GEMM_MIN_SECONDS = 0.02  # ... or until one takes this long: near peak, yet quick where bf16 is emulated
BANDWIDTH_BYTES = 256 * 2**20  # far larger than any CPU cache, so the sum streams from memory
MEASURE_SECONDS = 0.3  # per figure: repeat until this much time has passed, keep the fastest run


@dataclass(frozen=True)
class MachineInfo:
    cpu: str
    cores: int
    torch_threads: int
    avx512_bf16: bool
    torch_version: str
    device: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MachinePerf:
    fp32_gflop_s: float
    bf16_gflop_s: float
    read_gb_s: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Limits:
    """Upper bounds for one model on this machine (matmul FLOPs only; batch 1 for decode)."""

    matmul_params_per_token: int
    weight_bytes_per_token: int
    prefill_tok_s: float  # compute-bound: FLOP/s / (2 * params per token)
    decode_tok_s: float  # bandwidth-bound: every weight is read once per decoded token

    def to_dict(self) -> dict:
        return asdict(self)


def _cpuinfo_fields() -> tuple[str, list[str]]:
    """CPU model name and flags, from /proc/cpuinfo where there is one."""
    info = Path("/proc/cpuinfo")
    text = info.read_text() if info.exists() else ""
    name = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "")
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), [])
    return name or platform.processor() or platform.machine(), flags


def _cpuinfo() -> tuple[str, bool]:
    """CPU model name and whether it has native bf16 dot products (avx512_bf16)."""
    name, flags = _cpuinfo_fields()
    return name, "avx512_bf16" in flags


def machine_info(device: str) -> MachineInfo:
    cpu, bf16 = _cpuinfo()
    if torch.device(device).type == "cuda":
        cpu = f"{cpu} + {torch.cuda.get_device_name(device)}"
    return MachineInfo(cpu, os.cpu_count() or 1, torch.get_num_threads(), bf16, torch.__version__, device)


# the CPU flags that decide which kernels and weight formats run fast here (docs/performance.md, 'Weight formats
# and the default dtype')
PERF_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_int8", "asimd", "sve")


def memory_total() -> int:
    """Bytes of memory this process's machine has, or its container's cgroup limit where that is lower."""
    import psutil

    total = psutil.virtual_memory().total
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            total = min(total, int(limit))
    except (OSError, ValueError):  # cgroup v1 or no cgroup: the machine's figure stands
        pass
    return total


def describe(device: str) -> dict:
    """The machine a result was measured on, for a saved result file: `machine_info` and what else tells two
    machines apart (the CPU flags that matter here, memory, the GPU and CUDA where any, OS and Python)."""
    _, flags = _cpuinfo_fields()
    gpu = torch.cuda.get_device_name(device if torch.device(device).type == "cuda" else 0) \
        if torch.cuda.is_available() else None
    return machine_info(device).to_dict() | {
        "cpu_flags": [f for f in PERF_FLAGS if f in flags],
        "memory_bytes": memory_total(),
        "gpu": gpu,
        "cuda": torch.version.cuda if gpu else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _fastest(fn, device: str) -> float:
    """Fastest run of `fn` over MEASURE_SECONDS, after one warm-up run."""
    fn()
    best, spent = float("inf"), 0.0
    while spent < MEASURE_SECONDS:
        seconds, _ = timed(fn, device)
        best, spent = min(best, seconds), spent + seconds
    return best


def gemm_gflop_s(dtype: torch.dtype, device: str) -> float:
    n = 256
    while True:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        a @ b  # the first call pays for thread start-up and allocation
        seconds, _ = timed(lambda a=a, b=b: a @ b, device)
        if seconds >= GEMM_MIN_SECONDS or n >= GEMM_MAX:
            return 2 * n**3 / _fastest(lambda a=a, b=b: a @ b, device) / 1e9
        n *= 2


def read_gb_s(device: str, nbytes: int = BANDWIDTH_BYTES) -> float:
    x = torch.ones(nbytes // 4, device=device)
    return nbytes / _fastest(lambda: x.sum(), device) / 1e9


def measure_machine(device: str) -> MachinePerf:
    return MachinePerf(
        fp32_gflop_s=gemm_gflop_s(torch.float32, device),
        bf16_gflop_s=gemm_gflop_s(torch.bfloat16, device),
        read_gb_s=read_gb_s(device),
    )


def fastest_of(perfs: list[MachinePerf]) -> MachinePerf:
    """Each figure's best over several measures (one per round): the machine keeps its fastest, as every system does."""
    return MachinePerf(*(max(getattr(p, f) for p in perfs) for f in ("fp32_gflop_s", "bf16_gflop_s", "read_gb_s")))


def implied_limits(perf: MachinePerf, compute_dtype: torch.dtype, matmul_params: int, weight_bytes: int) -> Limits:
    """Limits for a model whose matmuls run in `compute_dtype` (bf16 uses the bf16 GEMM rate, anything else fp32)."""
    gflop_s = perf.bf16_gflop_s if compute_dtype == torch.bfloat16 else perf.fp32_gflop_s
    return Limits(
        matmul_params_per_token=matmul_params,
        weight_bytes_per_token=weight_bytes,
        prefill_tok_s=gflop_s * 1e9 / (2 * matmul_params),
        decode_tok_s=perf.read_gb_s * 1e9 / weight_bytes,
    )


def memory_available() -> int:
    """Bytes this process may still allocate: the machine's available memory, or less where a container's cgroup
    limit says so (a Space's machine reports the host's memory, its cgroup the Space's share)."""
    import psutil

    available = psutil.virtual_memory().available
    limit, usage = Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory.current")
    try:
        if limit.read_text().strip() != "max":
            available = min(available, int(limit.read_text()) - int(usage.read_text()))
    except (OSError, ValueError):  # cgroup v1 or no cgroup: the machine's figure stands
        pass
    return available
