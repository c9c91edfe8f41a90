"""Time-series forecasting: a user's table read as the history to forecast (`table`), the quantile head on the
RWKV-7 hidden states (`head`), and back-testing against baselines (`evaluation`)."""
