"""CLI commands `lobflow collect` and `lobflow sim-exchange`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from lobflow.collect.venues import DEFAULT_EXCHANGE, VENUES


def collect(
    exchange: Annotated[
        str, typer.Option(help=f"comma-separated: {','.join(VENUES)}")
    ] = DEFAULT_EXCHANGE,
    symbol: Annotated[
        str, typer.Option(help="comma-separated unified symbols, e.g. BTC-USDT")
    ] = "BTC-USDT",
    hz: Annotated[
        float, typer.Option(help="polls per second per symbol (Kraken: 1 by default)")
    ] = 3.0,
    duration: Annotated[str | None, typer.Option(help="e.g. 10m; default: until Ctrl-C")] = None,
    out: Annotated[Path, typer.Option(help="output folder (raw/ and processed/)")] = Path("data"),
    base_url: Annotated[list[str] | None, typer.Option(help="venue=url, repeatable")] = None,
    flush_every: Annotated[str, typer.Option(help="max interval between part files")] = "5s",
    live: Annotated[
        bool | None, typer.Option(help="rich live status (default: on a terminal)")
    ] = None,
    spread: Annotated[
        bool, typer.Option(help="phase feeds over the poll period: less jitter, more CPU")
    ] = False,
) -> None:
    """Poll public L2 snapshots into raw and processed Parquet."""
    from rich.console import Console

    from lobflow._units import parse_duration
    from lobflow.collect import collect as run
    from lobflow.collect._status import table

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    urls: dict[str, str] = {}
    for item in base_url or []:
        name, sep, url = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--base-url takes venue=url, got {item!r}")
        urls[name] = url
    stats = run(
        exchanges=[e.strip() for e in exchange.split(",") if e.strip()],
        symbols=[s.strip() for s in symbol.split(",") if s.strip()],
        hz=hz,
        duration_s=parse_duration(duration) / 1e9 if duration else None,
        out=out,
        base_urls=urls,
        flush_every_s=parse_duration(flush_every) / 1e9,
        live=live,
        spread_feeds=spread,
    )
    Console(stderr=True).print(table(stats))


def sim_exchange(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1")] = 8001,
    seed: Annotated[int, typer.Option(help="seed of the simulated books")] = 0,
) -> None:
    """Serve a simulated market in all four venues' REST formats (for offline collection)."""
    from lobflow.collect.sim import serve

    typer.echo(f"simulated venue on http://127.0.0.1:{port} (kucoin, kraken, bybit, binance paths)")
    serve(port, seed)


def register(app: typer.Typer) -> None:
    """Add `collect` and `sim-exchange` to the `lobflow` app."""
    app.command("collect")(collect)
    app.command("sim-exchange")(sim_exchange)
