"""The bundled sample: synthetic books from lobflow's simulated venue (see make_sample.py)."""

from __future__ import annotations

from pathlib import Path

#: 80 000 snapshots of one simulated feed at 100 ms, with a queue-imbalance edge put there by
#: construction (`lobflow.data.make_sample` documents the market and regenerates the file).
SAMPLE = Path(__file__).with_name("sample.parquet")

__all__ = ["SAMPLE"]
