"""Time-series forecasting: the quantile head on the RWKV-7 hidden states, and back-testing against baselines."""
