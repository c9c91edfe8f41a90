#!/usr/bin/env bash
# The checks that need a CUDA GPU (CI has none): compiled Triton kernels against the float64 reference, the model on
# CUDA against the CPU, then the kernel and model benchmarks. Logs go to $1 (default ./gpu-logs).
# Needs torch with CUDA, triton and pytest; flash-linear-attention (fla-core) for the kernel comparison.
# Much of its time goes to compiling (fla autotunes every shape, so its comparison runs last).
set -u
logs=${1:-gpu-logs}
mkdir -p "$logs"
export TRITON_INTERPRET=0 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$logs/gpu.txt"
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" | tee -a "$logs/gpu.txt"
MODRWKV_TEST_DEVICE=cuda timeout 150 python3 -m pytest -q -p no:cacheprovider \
    tests/test_kernels_triton.py tests/test_backbone_cuda.py 2>&1 | tee "$logs/tests.txt"
timeout 120 python3 -m modrwkv.bench compare --device cuda --dtype bf16 --contexts 1024,16384 --batches 1,8 \
    --skip-rwkv-pkg --repeats 2 --json 2>&1 | tee "$logs/compare.txt"
timeout 200 python3 -m modrwkv.bench kernels --device cuda --dtype bf16 --contexts 4096,16384 --batches 1,8 --json \
    2>&1 | tee "$logs/kernels.txt"
