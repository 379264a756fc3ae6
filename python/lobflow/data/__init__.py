"""The bundled sample dataset (see make_sample.py)."""
