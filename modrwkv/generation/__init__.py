"""Generation: sampling, the streaming batched decode loop, chat state kept between turns, CUDA-graph decode steps."""
