"""Regenerate the bundled sample: ``python -m lobflow.data.make_sample`` (seeded, reproducible).

The sample is produced by lobflow's own simulated venue (`lobflow.collect.simbook`), never
copied from real exchange data.
"""

from __future__ import annotations

from pathlib import Path

from lobflow.collect.simbook import simulate_books

SAMPLE = Path(__file__).with_name("sample.parquet")
ROWS = 80_000  # ~2.2 hours at 100 ms
SEED = 20_240_808


def main() -> None:
    """Write sample.parquet beside this file."""
    df = simulate_books(ROWS, seed=SEED, symbol="SIM-USDT")
    df.write_parquet(SAMPLE, compression="zstd", compression_level=19, statistics=True)
    print(f"wrote {SAMPLE} ({SAMPLE.stat().st_size / 1e6:.1f} MB, {df.height:,} rows)")


if __name__ == "__main__":
    main()
