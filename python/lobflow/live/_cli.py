"""CLI command `lobflow live`: stream, score and record books with a resident engine."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path  # noqa: TC003 (typer reads the annotations at runtime)
from typing import Annotated

import typer

from lobflow._cli_options import CoresOption, parse_duration
from lobflow.collect._cli import _venue_urls
from lobflow.collect.venues import DEFAULT_EXCHANGE, VENUES


def live(
    weights: Annotated[Path, typer.Option(help="weights file (lobflow train's weights.txt)")],
    exchange: Annotated[
        str, typer.Option(help=f"comma-separated: {','.join(VENUES)}")
    ] = DEFAULT_EXCHANGE,
    symbol: Annotated[
        str, typer.Option(help="comma-separated unified symbols, e.g. BTC-USDT")
    ] = "BTC-USDT",
    duration: Annotated[
        int | None,
        typer.Option(
            parser=parse_duration,
            metavar="DURATION",
            help="e.g. 1h; default: until Ctrl-C",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="record raw_ws/, processed/ and signals/ here (default: nothing)"),
    ] = None,
    base_url: Annotated[list[str] | None, typer.Option(help="venue=url, repeatable")] = None,
    ws_url: Annotated[
        list[str] | None,
        typer.Option(help="venue=ws://host:port, repeatable: replaces a venue's WebSocket host"),
    ] = None,
    cores: CoresOption = None,
    flush_every: Annotated[
        int,
        typer.Option(
            parser=parse_duration,
            metavar="DURATION",
            help="max interval between part files (what kill -9 may lose)",
            show_default="5s",
        ),
    ] = 5_000_000_000,
    view: Annotated[
        bool | None, typer.Option(help="rich live view (default: on a terminal)")
    ] = None,
    rotate_after: Annotated[
        int,
        typer.Option(
            parser=parse_duration,
            metavar="DURATION",
            help="renew each connection after (venues cut at 24h)",
            show_default="23h",
        ),
    ] = 23 * 3600 * 10**9,
) -> None:
    """Stream books over WebSocket, score every update with a resident engine, record it all."""
    from rich.console import Console
    from rich.logging import RichHandler

    from lobflow.live.run import alive
    from lobflow.live.view import summary_table

    console = Console()
    logging.basicConfig(
        level=logging.INFO, format="%(message)s", handlers=[RichHandler(console=console)]
    )
    stats = asyncio.run(
        alive(
            weights,
            exchanges=[e.strip() for e in exchange.split(",") if e.strip()],
            symbols=[s.strip() for s in symbol.split(",") if s.strip()],
            duration_s=None if duration is None else duration / 1e9,
            out=out,
            base_urls=_venue_urls("--base-url", base_url),
            ws_urls=_venue_urls("--ws-url", ws_url),
            cores=cores,
            # The event loop reads and pushes on the first core, the worker scores on the
            # second: two busy threads never share a core.
            pin_caller=True,
            flush_every_s=flush_every / 1e9,
            view=view,
            rotate_after_s=rotate_after / 1e9,
        )
    )
    console.print(summary_table(stats))
    console.print(stats.summary())
    if out is not None:
        feed = stats.feeds[0]
        console.print(
            f"replay: lobflow run {out}/processed/exchange={feed.exchange}/symbol={feed.symbol} "
            f"--weights {weights} gives the same scores as {out}/signals/"
        )


def register(app: typer.Typer) -> None:
    """Add `live` to the `lobflow` app."""
    app.command("live")(live)
