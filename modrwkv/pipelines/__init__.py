"""Task pipelines on ModRWKV, the library's serving layer: image chat, speech transcription, forecasting, and the
live efficiency measurement (state memory and latency against context)."""
