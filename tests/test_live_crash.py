"""`lobflow live` as a real process: SIGTERM and Ctrl-C write everything, ``kill -9`` loses at
most one flush interval, and what was written still replays bit for bit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest

import lobflow
from lobflow._feed import scan_books
from lobflow.collect.sim.process import sim_exchange_process

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

VENUES = ("bybit", "kucoin")
SYMBOLS = ("BTC-USDT", "ETH-USDT")
FLUSH_S = 1.0
#: What a loaded machine may add to one flush interval: the flush loop's 0.2 s look, a write
#: in flight when the process dies, the scheduler.
SLACK_S = 1.5


@pytest.fixture(scope="module")
def sim() -> Iterator[int]:
    with sim_exchange_process(3) as venue:
        yield venue.port


def weights(tmp_path: Path) -> Path:
    coef = np.random.default_rng(5).normal(size=18) * 0.05
    coef[0], coef[3] = 0.01, -0.01
    return lobflow.Weights((10, 50, 200), 0.05, 0.0, tuple(coef)).save(tmp_path / "w.txt")


def start(port: int, w: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "lobflow", "live", "--weights", str(w), "--out", str(out)]
    args += ["--exchange", ",".join(VENUES), "--symbol", ",".join(SYMBOLS)]
    args += ["--flush-every", f"{FLUSH_S:g}s", "--no-view", *extra]
    for v in VENUES:
        args += ["--base-url", f"{v}=http://127.0.0.1:{port}"]
        args += ["--ws-url", f"{v}=ws://127.0.0.1:{port}"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for_signals(proc: subprocess.Popen[bytes], out: Path, parts: int) -> None:
    """Until `parts` signal part files exist (the run is streaming and flushing)."""
    deadline = time.monotonic() + 90
    while len(list((out / "signals").rglob("*.parquet"))) < parts:
        if proc.poll() is not None:
            pytest.fail(f"live exited early:\n{proc.stdout.read().decode() if proc.stdout else ''}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no signals written within 90 s")
        time.sleep(0.1)


def feeds(out: Path) -> list[tuple[Path, pl.DataFrame, pl.DataFrame]]:
    """Per feed: its processed folder, its processed rows, its signals, as written."""
    found = []
    for folder in sorted((out / "processed").glob("exchange=*/symbol=*")):
        # Through lobflow's reader: a kill leaves a hidden `.part-*.parquet.tmp` beside the
        # part files, which a plain `pl.read_parquet(folder)` refuses to mix in.
        rows = scan_books(folder).collect()
        sig = out / "signals" / folder.parent.name / folder.name
        signals = scan_books(sig).collect() if sig.is_dir() else pl.DataFrame()
        found.append((folder, rows, signals))
    return found


def assert_replays(w: Path, folder: Path, rows: pl.DataFrame, signals: pl.DataFrame) -> int:
    """The signals written equal the engine's replay of the processed rows, over those both have."""
    n = min(rows.height, signals.height)
    assert signals["ts_local"][:n].equals(rows["ts_local"][:n]), folder
    scores = np.asarray(lobflow.Engine(lobflow.Weights.load(w)).run(folder).scores)[:n]
    assert scores.view(np.int64).tolist() == signals["score"][:n].to_numpy().view(np.int64).tolist()
    return n


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_and_ctrl_c_write_every_signal(sim: int, tmp_path: Path, sig: int) -> None:
    w, out = weights(tmp_path), tmp_path / "live"
    proc = start(sim, w, out)
    wait_for_signals(proc, out, 2 * len(VENUES) * len(SYMBOLS))
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output.decode()
    found = feeds(out)
    assert len(found) == len(VENUES) * len(SYMBOLS)
    for folder, rows, signals in found:
        assert signals.height == rows.height > 0, folder  # nothing left in memory
        assert assert_replays(w, folder, rows, signals) == rows.height
        # Compacted: one part per partition, no temp files.
        sig_files = list((out / "signals" / folder.parent.name / folder.name).rglob("*"))
        assert [f.name.endswith("-compacted.parquet") for f in sig_files if f.is_file()] == [True]


def test_kill_9_loses_at_most_one_flush_interval(sim: int, tmp_path: Path) -> None:
    w, out = weights(tmp_path), tmp_path / "live"
    proc = start(sim, w, out)
    wait_for_signals(proc, out, 3 * len(VENUES) * len(SYMBOLS))
    killed_at = time.time_ns()
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    found = feeds(out)
    assert len(found) == len(VENUES) * len(SYMBOLS)
    for folder, rows, signals in found:
        assert signals.height > 0, folder
        for what, frame in (("processed", rows), ("signals", signals)):
            lost_s = (killed_at - frame["ts_local"].to_numpy().max()) / 1e9
            assert lost_s <= FLUSH_S + SLACK_S, (folder, what, lost_s)
        assert assert_replays(w, folder, rows, signals) > 0
    # The next run over the same folder tidies what the kill left and records on.
    again = start(sim, w, out, "--duration", "2s")
    output, _ = again.communicate(timeout=90)
    assert again.returncode == 0, output.decode()
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
