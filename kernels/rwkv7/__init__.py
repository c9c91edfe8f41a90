"""The RWKV-7 operators: the float64 reference (`naive`), PyTorch, Triton and C kernels of the WKV recurrence, the
native CPU decode step and prompt ops, and the build of the C sources. `dispatch.wkv7` picks the recurrence."""
