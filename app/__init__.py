"""Gradio UI for ModRWKV. UI only: every computation is a call into `modrwkv`."""
