"""Serving many conversations on one model: continuous batching (`scheduler`)."""
