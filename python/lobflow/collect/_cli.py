"""CLI commands `lobflow collect` and `lobflow sim-exchange` (defined by the simulated venue)."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from lobflow.collect.venues import DEFAULT_EXCHANGE, VENUES


class Transport(StrEnum):
    """How the collector reads books."""

    rest = "rest"
    ws = "ws"


def _venue_urls(option: str, items: list[str] | None) -> dict[str, str]:
    urls: dict[str, str] = {}
    for item in items or []:
        name, sep, url = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{option} takes venue=url, got {item!r}")
        urls[name] = url
    return urls


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
    transport: Annotated[
        Transport,
        typer.Option(help="rest: poll snapshots; ws: stream every book change (WebSocket)"),
    ] = Transport.rest,
    ws_url: Annotated[
        list[str] | None,
        typer.Option(help="venue=ws://host:port, repeatable: replaces a venue's WebSocket host"),
    ] = None,
    rotate_after: Annotated[
        str, typer.Option(help="--transport ws: renew each connection after (venues cut at 24h)")
    ] = "23h",
) -> None:
    """Collect public L2 books into raw and processed Parquet (REST polls or WebSocket)."""
    from rich.console import Console

    from lobflow._units import parse_duration
    from lobflow.collect._status import table

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    urls = _venue_urls("--base-url", base_url)
    exchanges = [e.strip() for e in exchange.split(",") if e.strip()]
    symbols = [s.strip() for s in symbol.split(",") if s.strip()]
    duration_s = parse_duration(duration) / 1e9 if duration else None
    if transport is Transport.ws:
        from lobflow.collect.ws.stream import stream

        streamed = stream(
            exchanges=exchanges,
            symbols=symbols,
            duration_s=duration_s,
            out=out,
            base_urls=urls,
            ws_urls=_venue_urls("--ws-url", ws_url),
            flush_every_s=parse_duration(flush_every) / 1e9,
            live=live,
            rotate_after_s=parse_duration(rotate_after) / 1e9,
        )
        Console(stderr=True).print(table(streamed))
        return
    from lobflow.collect import collect as run

    stats = run(
        exchanges=exchanges,
        symbols=symbols,
        hz=hz,
        duration_s=duration_s,
        out=out,
        base_urls=urls,
        flush_every_s=parse_duration(flush_every) / 1e9,
        live=live,
        spread_feeds=spread,
    )
    Console(stderr=True).print(table(stats))


def register(app: typer.Typer) -> None:
    """Add `collect` and `sim-exchange` to the `lobflow` app."""
    from lobflow.collect.sim.cli import sim_exchange

    app.command("collect")(collect)
    app.command("sim-exchange")(sim_exchange)
