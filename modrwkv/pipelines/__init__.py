"""Task pipelines on ModRWKV: image chat, speech transcription (each streaming)."""
