"""Imports stream: peak memory does not grow with the input once its bounds are reached.

Each import runs in a fresh process (peak RSS is per process) with the streaming bounds
scaled down (64 KB blocks, 512-row frames, 1 024-row groups), so that a few megabytes of
input pass them; a file four times longer must then cost no more memory.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest

if TYPE_CHECKING:
    from pathlib import Path

RUN = textwrap.dedent(
    """
    import resource, sys
    from lobflow.io import _csv, _rows, _sink, _tardis, import_books
    _csv.BLOCK_BYTES = 1 << 16
    _rows.BATCH_ROWS = _tardis.BATCH_ROWS = 512
    _sink.GROUP_ROWS = 1024
    report = import_books("tardis", sys.argv[1], sys.argv[2])
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, report.counts.rows)
    """
)


def updates(path: Path, n: int) -> None:
    """`n` incremental_book_L2 rows within 20 ticks of a fixed mid, 3 rows per message."""
    rng = np.random.default_rng(0)
    t = 1_723_075_200_000_000 + np.arange(n) // 3 * 1000
    bid = rng.random(n) < 0.5
    off = rng.integers(1, 20, n)
    pl.DataFrame(
        {
            "exchange": "x",
            "symbol": "S",
            "timestamp": t,
            "local_timestamp": t + 5,
            "is_snapshot": np.zeros(n, dtype=bool),
            "side": np.where(bid, "bid", "ask"),
            "price": np.where(bid, 60_000 - off, 60_000 + off) / 10,
            "amount": np.where(rng.random(n) < 0.2, 0.0, rng.integers(1, 5000, n) / 1000),
        }
    ).write_csv(path)


def peak_kb(src: Path, out: Path) -> tuple[int, int]:
    res = subprocess.run(
        [sys.executable, "-c", RUN, str(src), str(out)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    kb, rows = res.stdout.split()
    return int(kb), int(rows)


@pytest.mark.slow
def test_peak_memory_is_flat_in_the_input_size(tmp_path: Path) -> None:
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    updates(small, 100_000)
    updates(large, 400_000)
    grown_mb = (large.stat().st_size - small.stat().st_size) / 2**20
    assert grown_mb > 15
    kb_small, rows_small = peak_kb(small, tmp_path / "a")
    kb_large, rows_large = peak_kb(large, tmp_path / "b")
    assert rows_large > 3 * rows_small
    # Held in memory, the extra rows alone would take ~0.2 KB each as columns (~12 MB here),
    # ~0.7 KB each as Python tuples, and the extra text ~17 MB. What does grow is the Parquet
    # writer's footer: one entry per row group (88 groups of 1 024 rows here, one per
    # 32 768 rows in a real import).
    assert (kb_large - kb_small) / 1024 < 6, (kb_small, kb_large)
