"""Reproducible training recipes for the models bundled in assets/models/: `python -m modrwkv.train.recipes.<name>`."""
