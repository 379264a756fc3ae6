"""Progress bars show on a terminal only, and long stages report their steps to them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lobflow import features
from lobflow._progress import progress_bar
from lobflow.collect.simbook import simulate_books

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_the_bar_shows_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    with progress_bar() as bar:  # pytest's captured stderr is no terminal
        assert bar.disable
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich's way to say "this is a terminal"
    with progress_bar() as bar:
        assert not bar.disable
    with progress_bar(show=False) as bar:
        assert bar.disable


def test_sink_reports_each_slice(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    books = simulate_books(2_500, seed=1)
    rows = features.sink(
        books,
        tmp_path / "f.parquet",
        (1000, 2000, 5000),
        slice_rows=1_000,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert rows == 2_500
    assert calls == [(1_000, 2_500), (2_000, 2_500), (2_500, 2_500)]


def test_cli_output_has_no_bar_when_piped(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lobflow.cli import app

    books = tmp_path / "books.parquet"
    simulate_books(3_000, seed=2).write_parquet(books)
    out = tmp_path / "f.parquet"
    res = CliRunner().invoke(app, ["features", str(books), "--out", str(out)])
    assert res.exit_code == 0, res.output
    # One line (rich wraps it at 80 columns), nothing else: no bar, no spinner.
    assert " ".join(res.output.split()) == f"wrote 3,000 rows of the 18 features to {out}"
