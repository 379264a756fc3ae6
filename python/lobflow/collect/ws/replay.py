"""Rebuild the processed rows of WebSocket runs from their raw events, offline.

The live client records every event before its book machine sees it, in the machine's order
(``run``, ``n``); feeding the same events to a fresh machine of the same venue gives the same
rows, which is what `replay_raw` does (and what the tests check against what was written).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from lobflow._schema import BOOK_COLUMNS
from lobflow.collect.stats import StreamStats
from lobflow.collect.venues import VENUES

#: Columns of `replay_raw`'s frame: the processed schema, then the feed.
COLUMNS = ("ts", *BOOK_COLUMNS, "ts_local", "seq", "exchange", "symbol")


def replay_raw(out: str | Path, exchange: str | None = None) -> pl.DataFrame:
    """The processed rows the WebSocket runs under ``<out>/raw_ws`` wrote, rebuilt.

    Rows in the order each feed wrote them, feeds by exchange, then run, then symbol; the
    columns of the processed files plus ``exchange`` and ``symbol``.
    """
    folder = Path(out) / "raw_ws"
    if not any(folder.glob("**/*.parquet")):
        msg = f"no WebSocket raw events under {folder}"
        raise FileNotFoundError(msg)
    raw = pl.scan_parquet(folder / "**" / "*.parquet", hive_partitioning=True)
    if exchange is not None:
        raw = raw.filter(pl.col("exchange") == exchange)
    events = raw.select(
        "exchange", "run", "n", "ts_local", "conn", "event", "symbol", "status", "body"
    )
    rows: list[tuple[object, ...]] = []
    for (name, _run), part in (
        events.collect()
        .sort("exchange", "run", "n")
        .group_by(["exchange", "run"], maintain_order=True)
    ):
        rows += _replay(str(name), part)
    types: dict[str, pl.DataType] = {c: pl.Float64() for c in BOOK_COLUMNS}
    types.update(ts=pl.Int64(), ts_local=pl.Int64(), seq=pl.Int64())
    types.update(exchange=pl.String(), symbol=pl.String())
    return pl.DataFrame(rows, schema=[(c, types[c]) for c in COLUMNS], orient="row")


def _replay(name: str, events: pl.DataFrame) -> list[tuple[object, ...]]:
    venue = VENUES[name]
    out: list[tuple[object, ...]] = []

    def sink(symbol: str, ts: int, row: tuple[object, ...]) -> None:
        out.append((*row, name, symbol))

    machine = None
    for ts_local, conn, event, symbol, status, body in events.select(
        "ts_local", "conn", "event", "symbol", "status", "body"
    ).iter_rows():
        if event == "start":
            machine = venue.stream(json.loads(body)["symbols"], sink, StreamStats())
        elif machine is None:
            continue  # a run whose start event is missing: nothing to build it for
        elif event == "open":
            machine.open(conn, ts_local)
        elif event == "frame":
            machine.frame(conn, body, ts_local)
        elif event == "close":
            machine.close(conn, body)
        else:
            machine.rest(conn, event, symbol, status or 0, body, ts_local)
    return out
