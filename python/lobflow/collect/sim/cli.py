"""``lobflow sim-exchange`` (also ``python -m lobflow.collect.sim.cli``): the simulated venue."""

from __future__ import annotations

from typing import Annotated

import typer


def sim_exchange(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1")] = 8001,
    seed: Annotated[int, typer.Option(help="seed of the simulated books")] = 0,
    rate_scale: Annotated[
        float, typer.Option(help="multiplies every venue's real book-event rate")
    ] = 1.0,
    burst: Annotated[
        int, typer.Option(help="frames of a burst on each feed's first subscription (0: none)")
    ] = 0,
    depth: Annotated[int, typer.Option(help="levels a side each book keeps")] = 200,
) -> None:
    """Serve a simulated market in all four venues' REST and WebSocket formats."""
    from lobflow.collect.sim import serve

    if rate_scale < 0 or burst < 0 or depth < 5:
        raise typer.BadParameter("--rate-scale and --burst must be >= 0, --depth >= 5")
    typer.echo(
        f"simulated venue on http://127.0.0.1:{port} and ws://127.0.0.1:{port} "
        "(kucoin, kraken, bybit, binance paths; POST /sim/inject, /sim/burst; GET /sim/stats)"
    )
    serve(port, seed, rate_scale=rate_scale, burst_on_subscribe=burst, depth=depth)


if __name__ == "__main__":
    typer.run(sim_exchange)
