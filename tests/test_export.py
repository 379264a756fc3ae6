"""An exported weights file that was tampered with is refused, naming the file and the line."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import lobflow
from lobflow.export import bake

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

WINDOWS = (1000, 2000, 5000)


@pytest.fixture(scope="module")
def exported() -> str:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 18))
    pipe = make_pipeline(StandardScaler(), Ridge()).fit(x, x @ rng.normal(size=18))
    return bake(pipe, WINDOWS, threshold=0.25, comments=("test export",)).to_text()


def swap_lines(text: str) -> str:
    lines = text.splitlines(keepends=True)
    i = next(k for k, ln in enumerate(lines) if ln.startswith("qi_1 "))
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return "".join(lines)


def line_of(text: str, prefix: str) -> int:
    return next(k for k, ln in enumerate(text.splitlines(), 1) if ln.startswith(prefix))


@pytest.mark.parametrize(
    ("edit", "prefix", "needle"),
    [
        (swap_lines, "qi_2 ", "expected `qi_1`"),
        (
            lambda t: t.replace("windows_ms 1000 2000 5000", "windows_ms 10 20 50"),
            "rolling_ofi",
            "rolling_ofi_10ms",
        ),
        (lambda t: re.sub(r"^spread .*$", "spread nan", t, flags=re.M), "spread ", "finite"),
    ],
    ids=["swapped-lines", "wrong-windows", "non-finite"],
)
def test_tampered_file_is_refused_with_path_and_line(
    tmp_path: Path, exported: str, edit: Callable[[str], str], prefix: str, needle: str
) -> None:
    bad = edit(exported)
    assert bad != exported
    path = tmp_path / "weights.txt"
    path.write_text(bad)
    line = line_of(bad, prefix)
    with pytest.raises(
        lobflow.WeightsFormatError, match=rf"{re.escape(str(path))}:{line}: .*{needle}"
    ):
        lobflow.Weights.load(path)
    with pytest.raises(lobflow.WeightsFormatError, match=rf"{re.escape(str(path))}:{line}:"):
        lobflow.Engine(path, cores=(0, 1))


def test_untouched_export_loads_exactly(tmp_path: Path, exported: str) -> None:
    path = tmp_path / "weights.txt"
    path.write_text(exported)
    w = lobflow.Weights.load(path)
    assert w.to_text() == exported
    assert w.windows_ms == WINDOWS
    assert w.comments == ("test export",)
