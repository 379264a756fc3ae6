"""CLI commands of the engine: `lobflow run` and `lobflow c2c`.

`run` scores a feed and prints throughput and latency; `c2c` prints the machine's latency
floors (`lobflow.diagnostics`) that the engine's latency is to be compared with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lobflow._choices import OnBad
from lobflow._cli_options import CoresOption, OnBadOption  # noqa: TC001 (typer reads them at runtime)


def run(
    feed: Annotated[Path, typer.Argument(help="one feed of books (Parquet file or hive folder)")],
    weights: Annotated[Path, typer.Option(help="weights file")] = Path("weights.txt"),
    pace_ns: Annotated[
        int | None, typer.Option(help="space ticks this far apart (latency)")
    ] = None,
    cores: CoresOption = None,
    on_bad: OnBadOption = OnBad.RAISE,
    out: Annotated[
        Path | None, typer.Option(help="write scores and signals here (Parquet)")
    ] = None,
) -> None:
    """Run the inference engine over a feed."""
    import polars as pl
    from rich.console import Console

    from lobflow import Engine
    from lobflow._paths import check_output
    from lobflow._progress import progress_bar

    if out is not None:
        check_output(out, [("the feed", feed), ("the weights", weights)])
    with progress_bar() as bar:
        bar.add_task(f"scoring {feed}", total=None)
        res = Engine(weights, cores=cores).run(feed, pace_ns=pace_ns, on_bad=on_bad.literal)
    Console().print(res.summary())
    if res.pinning.note:
        Console(stderr=True).print(f"[yellow]{res.pinning.note}[/]")
    if out is not None:
        pl.DataFrame({"score": res.scores, "signal": res.signals}).write_parquet(out)


def c2c(
    cores: CoresOption = None,
    watch: Annotated[float, typer.Option(help="keep probing for this many seconds")] = 0.0,
    every: Annotated[float, typer.Option(help="seconds between probes when watching")] = 0.5,
    round_trips: Annotated[int, typer.Option(help="round trips per probe")] = 20_000,
) -> None:
    """One-way core-to-core latency (ns): the floor of the engine's tick latency.

    On VMs it is not one number: the host can move the two vCPUs, between ~21 ns and ~200 ns
    apart on the machines lobflow is developed on, for seconds to minutes at a time. Watch it
    before benchmarking (`lobflow c2c --watch 30`) to see which state the machine is in.
    The hand-off figure is the same bounce with each side writing a line of its own, as the
    ring's head and tail are: the floor of any SPSC queue's hand-off. The stamped figure is
    one message at a time across one line, stamped before the send and after the arrival
    with the engine's own clock reads: the floor of the engine's tick latency as it measures
    it, which can be several times the bulk figures (the clock reads cost crossings more
    than their own few ns on some CPUs).
    """
    import time

    from lobflow import _core, diagnostics

    c = cores or _core.auto_cores()
    if watch < 0 or every <= 0 or round_trips < 1:
        raise typer.BadParameter("--watch ≥ 0, --every > 0 and --round-trips ≥ 1")
    t0 = time.monotonic()
    while True:
        try:
            r = diagnostics.core_to_core_latency(c, round_trips)
            h = diagnostics.handoff_latency(c, round_trips)
            st = diagnostics.stamped_latency(c, round_trips)
        except ValueError as err:  # e.g. both cores come down to one on this machine
            raise typer.BadParameter(str(err)) from err
        used = r.cores
        cut = "".join(
            f"  ({name} cut short by the 1 s budget: {p.round_trips} round trips timed)"
            for name, p in (("one-way", r), ("hand-off", h), ("stamped", st))
            if p.cut_short
        )
        typer.echo(
            f"{time.monotonic() - t0:6.1f} s  cores {used[0]}+{used[1]}  one-way p50 "
            f"{r.p50:.1f} ns  p90 {r.p90:.1f} ns  min {r.min:.1f} ns  "
            f"hand-off p50 {h.p50:.1f} ns  stamped p50 {st.p50:.1f} ns{cut}"
        )
        if time.monotonic() - t0 + every > watch:
            break
        time.sleep(every)


def register(app: typer.Typer) -> None:
    """Add `run` and `c2c` to the `lobflow` app."""
    app.command("run")(run)
    app.command("c2c")(c2c)
