"""kill -9 leaves every written file readable; SIGINT flushes, compacts and exits cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import polars as pl
import pytest

from lobflow.collect.sim.process import sim_exchange_process

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def sim() -> Iterator[str]:
    with sim_exchange_process() as venue:
        yield venue.http


def start_collector(url: str, out: Path) -> subprocess.Popen[bytes]:
    log = out.parent / f"{out.name}-collector.log"
    with log.open("ab") as fh:  # the child keeps its own descriptor
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lobflow",
                "collect",
                "--exchange",
                "kucoin,binance",
                "--symbol",
                "BTC-USDT,ETH-USDT",
                "--hz",
                "3",
                "--out",
                str(out),
                "--base-url",
                f"kucoin={url}",
                "--base-url",
                f"binance={url}",
                "--flush-every",
                "500ms",
                "--no-live",
            ],
            stdout=subprocess.DEVNULL,
            stderr=fh,
        )


def wait_for_parts(out: Path, timeout: float = 60, newer_than: float = 0.0) -> None:
    """Wait until the collector is running: it has written part files (after `newer_than`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        parts = [
            p for p in out.glob("processed/**/part-*.parquet") if p.stat().st_mtime > newer_than
        ]
        if len(parts) >= 4:
            return
        time.sleep(0.2)
    pytest.fail("collector wrote no part files")


def test_kill_9_leaves_readable_files_and_the_next_run_recovers(sim: str, tmp_path: Path) -> None:
    proc = start_collector(sim, tmp_path)
    wait_for_parts(tmp_path)
    time.sleep(1.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    files = list(tmp_path.glob("**/*.parquet"))
    assert files
    rows = sum(pl.read_parquet(f).height for f in files)  # each one whole and readable
    assert rows > 0
    processed = pl.scan_parquet(
        tmp_path / "processed/**/*.parquet", hive_partitioning=True
    ).collect()
    assert processed.height > 0
    # A new run starts cleanly on the same folder (stray temp files are swept) and appends.
    restarted = time.time()
    again = start_collector(sim, tmp_path)
    # Interrupt only once it is running (under load, start-up imports can take seconds).
    wait_for_parts(tmp_path, newer_than=restarted)
    again.send_signal(signal.SIGINT)
    assert again.wait(20) == 0
    assert not list(tmp_path.glob("**/.*.tmp"))
    after = pl.scan_parquet(tmp_path / "processed/**/*.parquet", hive_partitioning=True).collect()
    assert after.height > processed.height


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_or_sigterm_flushes_compacts_and_exits_zero(
    sim: str, tmp_path: Path, sig: signal.Signals
) -> None:
    proc = start_collector(sim, tmp_path)
    wait_for_parts(tmp_path)
    time.sleep(1.0)
    proc.send_signal(sig)
    assert proc.wait(20) == 0, (tmp_path.parent / f"{tmp_path.name}-collector.log").read_text()
    parts = list(tmp_path.glob("processed/**/part-*.parquet"))
    folders = {p.parent for p in parts}
    assert len(folders) == 4  # 2 venues x 2 symbols (x 1 date)
    assert len(parts) == len(folders), "clean shutdown compacts each partition into one file"
    df = pl.scan_parquet(tmp_path / "processed/**/*.parquet", hive_partitioning=True).collect()
    for _, feed in df.group_by(["exchange", "symbol"]):
        assert feed["ts"].is_sorted()
        assert feed["seq"].n_unique() == feed.height  # no snapshot written twice
