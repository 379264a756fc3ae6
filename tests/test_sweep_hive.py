"""Generated multi-day books in the collector's hive layout, for the sweep's tests and bench."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from lobflow.collect import simulate_books
from lobflow.collect.writer import SCHEMAS
from lobflow.sweep._config import parse_config
from lobflow.sweep._plan import discover, resolve_root

if TYPE_CHECKING:
    from pathlib import Path

#: 2025-01-01 00:00 UTC.
DAY0_NS = 1_735_689_600_000_000_000
DAY_NS = 86_400 * 10**9


def day_folder(root: Path, exchange: str, symbol: str, day: int) -> Path:
    """The collector's partition folder of `day` (0 = 2025-01-01) under ``root/processed``."""
    d = datetime.fromtimestamp((DAY0_NS + day * DAY_NS) / 1e9, tz=UTC).date()
    return root / "processed" / f"exchange={exchange}" / f"symbol={symbol}" / f"date={d}"


def write_hive(
    root: Path,
    feeds: tuple[tuple[str, str], ...] = (("sim", "BTC-USDT"), ("sim", "ETH-USDT")),
    days: int = 4,
    rows: int = 3000,
    seed: int = 0,
) -> Path:
    """`days` days of `rows` simulated snapshots (100 ms apart) per feed, one part file each,
    in the collector's processed schema and layout; returns `root`.
    """
    schema = SCHEMAS["processed"]
    for k, (exchange, symbol) in enumerate(feeds):
        for d in range(days):
            books = simulate_books(
                rows,
                seed=seed * 10_000 + k * 100 + d,
                start_ns=DAY0_NS + d * DAY_NS,
                exchange=exchange,
                symbol=symbol,
            )
            folder = day_folder(root, exchange, symbol, d)
            folder.mkdir(parents=True, exist_ok=True)
            table = books.select(schema.names).to_arrow().cast(schema)
            pq.write_table(table, folder / "part-1-compacted.parquet")
    return root


def test_the_hive_is_found_as_the_collector_writes_it(tmp_path: Path) -> None:
    write_hive(tmp_path, days=3, rows=50)
    root = resolve_root(tmp_path)
    assert root == tmp_path / "processed"
    cfg = parse_config({"data": {"feeds": ["sim/*"]}, "walk_forward": {"train_days": 1}})
    feeds = discover(root, cfg)
    assert [f.name for f in feeds] == ["sim/BTC-USDT", "sim/ETH-USDT"]
    assert [d.day for d in feeds[0].days] == [date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 3)]
    first = pq.read_table(root / feeds[0].days[0].files[0])
    assert first.schema.equals(SCHEMAS["processed"])
    assert first.num_rows == 50
