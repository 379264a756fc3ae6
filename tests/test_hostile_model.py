"""A model folder is code: `export` unpickles nothing until the folder's manifest vouches for it."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lobflow
from lobflow.backtest import BacktestConfig
from lobflow.cli import app
from lobflow.collect.simbook import simulate_books
from lobflow.train import fit, load_model, save_model


class _Touch:
    """Unpickling this creates a file: the stand-in for any code a pickle can run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return (Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    books = simulate_books(6_000, seed=3, imbalance_edge=0.45)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no threshold makes money", lobflow.LobflowWarning)
        result = fit(books, windows_ms=(1000, 2000, 5000), execution=BacktestConfig(cores=(0, 1)))
    return save_model(result, tmp_path_factory.mktemp("trained") / "model")


@pytest.fixture
def model(trained: Path, tmp_path: Path) -> Path:
    """A fresh copy of one trained model folder."""
    return Path(shutil.copytree(trained, tmp_path / "model"))


def _export(model: Path, out: Path) -> tuple[int, list[str]]:
    res = CliRunner().invoke(app, ["export", str(model), "--out", str(out)])
    return res.exit_code, [line for line in res.output.splitlines() if line.strip()]


def test_a_saved_model_has_a_manifest_and_exports(model: Path, tmp_path: Path) -> None:
    d = model
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["format"] == "lobflow-model v1"
    assert manifest["pipeline.joblib"]["bytes"] == (d / "pipeline.joblib").stat().st_size
    code, lines = _export(d, tmp_path / "w.txt")
    assert code == 0, lines
    assert lobflow.Weights.load(tmp_path / "w.txt") == lobflow.Weights.load(d / "weights.txt")
    # Writing into the model folder itself, over its own weights.txt, stays allowed.
    code, lines = _export(d, d / "weights.txt")
    assert code == 0, lines


def test_a_folder_without_a_manifest_runs_none_of_its_code(tmp_path: Path) -> None:
    d = tmp_path / "downloaded"
    d.mkdir()
    marker = tmp_path / "ran"
    (d / "pipeline.joblib").write_bytes(pickle.dumps(_Touch(marker)))
    (d / "metrics.json").write_text('{"model": "ridge"}\n')
    code, lines = _export(d, tmp_path / "w.txt")
    assert code == 1
    assert len(lines) == 1, lines
    assert f"{d} is not a model folder written by `lobflow train`" in lines[0]
    assert "manifest.json" in lines[0]
    assert not marker.exists()
    with pytest.raises(ValueError, match=r"no manifest\.json"):
        load_model(d)
    assert not marker.exists()


def test_a_pipeline_replaced_after_training_runs_none_of_its_code(
    model: Path, tmp_path: Path
) -> None:
    d = model
    marker = tmp_path / "ran"
    (d / "pipeline.joblib").write_bytes(pickle.dumps(_Touch(marker)))
    code, lines = _export(d, tmp_path / "w.txt")
    assert code == 1
    assert len(lines) == 1, lines
    assert "replaced or damaged" in lines[0]
    assert not marker.exists()


@pytest.mark.parametrize(
    "manifest",
    [
        b"not json",
        b"[" * 100_000,  # nested past json's recursion limit
        b'{"format": "lobflow-model v1"}',
        b'{"format": "other", "pipeline.joblib": {"sha256": "00", "bytes": 1}}',
        b'{"format": "lobflow-model v1", "pipeline.joblib": {"sha256": 1, "bytes": "1"}}',
        b'{"format": "lobflow-model v1", "pipeline.joblib": {"sha256": "0", "bytes": 1e400}}',
        b" " * (1 << 17),
    ],
)
def test_a_manifest_that_is_not_one_is_refused(model: Path, manifest: bytes) -> None:
    d = model
    (d / "manifest.json").write_bytes(manifest)
    with pytest.raises(ValueError, match=r"is not a lobflow model manifest"):
        load_model(d)


def test_export_help_says_a_model_folder_is_code() -> None:
    res = CliRunner().invoke(app, ["export", "--help"], terminal_width=200)
    assert res.exit_code == 0
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", res.output).split()).lower()
    assert "a model folder is code" in text


@pytest.mark.parametrize("command", ["backtest", "report"])
def test_held_out_runs_none_of_a_model_folders_code(
    model: Path, tmp_path: Path, command: str
) -> None:
    # --held-out needs only where the test part starts (metrics.json): a folder made to do
    # harm, its manifest rewritten to vouch for the pickle, must not get to run it.
    from lobflow.train._manifest import write_manifest

    books = tmp_path / "books.parquet"
    simulate_books(6_000, seed=3, imbalance_edge=0.45).write_parquet(books)
    marker = tmp_path / "ran"
    (model / "pipeline.joblib").write_bytes(pickle.dumps(_Touch(marker)))
    write_manifest(model)
    args = [command, str(books), "--weights", str(model / "weights.txt"), "--cores", "0,1"]
    args += ["--held-out", str(model)]
    if command == "report":
        args += ["--out", str(tmp_path / "report")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert not marker.exists(), "--held-out unpickled the model folder's pipeline"
    start = json.loads((model / "metrics.json").read_text())["test_start_ns"]
    held_out = sum(
        1 for t in simulate_books(6_000, seed=3, imbalance_edge=0.45)["ts"] if t >= start
    )
    assert f"{held_out:,}" in res.output or str(held_out) in res.output


def test_held_out_names_a_folder_without_its_metrics(tmp_path: Path) -> None:
    books = tmp_path / "books.parquet"
    simulate_books(100, seed=3).write_parquet(books)
    w = lobflow.Weights((1000, 2000, 5000), 1.0, 0.0, (0.0,) * 18).save(tmp_path / "w.txt")
    for folder, said in (
        (tmp_path / "nowhere", f"model folder {tmp_path / 'nowhere'} does not exist"),
        (tmp_path, f"{tmp_path} is not a model folder written by `lobflow train`"),
    ):
        args = ["backtest", str(books), "--weights", str(w), "--held-out", str(folder)]
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 1, res.output
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert len(lines) == 1, res.output
        assert said in lines[0]


def test_a_model_folder_that_does_not_exist_is_named_as_such(tmp_path: Path) -> None:
    # `lobflow train` failed (too few rows) and wrote nothing: "it has no manifest.json" sent
    # the user looking for a file in a folder that was never made.
    code, lines = _export(tmp_path / "model", tmp_path / "w.txt")
    assert code == 1
    assert lines == [f"error: model folder {tmp_path / 'model'} does not exist"]
