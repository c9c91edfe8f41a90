"""CPU fast paths for the RWKV-7 model, attached from outside the model's code by `prepare_for_cpu`."""
from modrwkv.cpu.prepare import prepare_for_cpu

__all__ = ["prepare_for_cpu"]
