"""The soak's fit: the slope of RSS after the warm-up, from its CSV."""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

import pytest

from lobflow.live.soak import fit, read_csv, rss_mib

if TYPE_CHECKING:
    from pathlib import Path


def test_the_slope_leaves_the_warm_up_out_and_reads_back_from_the_csv(tmp_path: Path) -> None:
    # 10 minutes climbing 60 MiB, then 50 minutes growing 6 MiB an hour: the leak to report.
    t = [10.0 * i for i in range(361)]
    rss = [100 + 60 * min(x, 600) / 600 + 6 * max(x - 600, 0) / 3600 for x in t]
    path = tmp_path / "soak.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["t_s", "rss_mib"])
        w.writeheader()
        w.writerows({"t_s": a, "rss_mib": b} for a, b in zip(t, rss, strict=True))
    got = fit(*read_csv(path), 20.0, path, 1000)
    assert got.slope_mib_per_h == pytest.approx(6.0)
    assert got.warmup_s == 1200
    assert "slope after the warm-up +6.00 MiB/h" in got.summary()
    # With no warm-up the climb dominates.
    assert fit(t, rss, 0.0, path, 0).slope_mib_per_h > 20
    # A warm-up longer than half the run is cut to half of it.
    assert fit(t[:61], rss[:61], 20.0, path, 0).warmup_s == 300


def test_rss_is_this_process_s_resident_memory() -> None:
    before = rss_mib()
    block = bytearray(64 * 2**20)
    block[::4096] = b"x" * len(block[::4096])  # touch every page
    assert rss_mib() - before > 50
