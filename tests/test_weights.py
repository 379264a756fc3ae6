"""`Weights` round-trips through the engine's parser; malformed files name path and line."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pytest

import lobflow

if TYPE_CHECKING:
    from pathlib import Path

W = lobflow.Weights(
    (10, 20, 50), 0.85, -0.0123456789, tuple(0.1 * i - 1.3e-7 for i in range(18)), ("hello",)
)


def test_round_trip_is_exact(tmp_path: Path) -> None:
    back = lobflow.Weights.load(W.save(tmp_path / "w.txt"))
    assert back == W
    assert back.coef == W.coef
    assert back.comments == ("hello",)


def test_text_matches_the_spec() -> None:
    lines = W.to_text().splitlines()
    assert lines[0] == "# lobflow-weights v1"
    assert lines[2] == "windows_ms 10 20 50"
    assert lines[3] == "threshold 0.85"
    assert [ln.split()[0] for ln in lines[5:]] == list(lobflow.FEATURE_NAMES)


@pytest.mark.parametrize(
    ("edit", "line", "needle"),
    [
        (lambda t: t.replace("# lobflow-weights v1", "# lobflow-weights v2"), 1, "first line"),
        (
            lambda t: t.replace("mid ", "X ").replace("spread ", "mid ").replace("X ", "spread "),
            6,
            "expected `mid`",
        ),
        (lambda t: t.replace("windows_ms 10 20 50", "windows_ms 10 20 60"), 17, "rolling_ofi_60ms"),
        (lambda t: re.sub(r"^qi_2 .*$", "qi_2 inf", t, flags=re.M), 12, "finite"),
        (lambda t: t.replace("bias", "bias 1"), 5, "takes 1 number"),
        (lambda t: t + "extra 1\n", 24, "unexpected `extra`"),
    ],
)
def test_malformed_files_name_path_and_line(
    tmp_path: Path, edit: object, line: int, needle: str
) -> None:
    p = tmp_path / "bad.txt"
    p.write_text(edit(W.to_text()))  # type: ignore[operator]
    with pytest.raises(lobflow.WeightsFormatError, match=rf"{p}:{line}: .*{needle}"):
        lobflow.Weights.load(p)


def test_a_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    p = tmp_path / "latin1.txt"
    lines = W.to_text().encode().split(b"\n")
    lines.insert(3, b"# caf\xe9")  # a Latin-1 comment, as an old editor saves it
    p.write_bytes(b"\n".join(lines))
    with pytest.raises(lobflow.WeightsFormatError) as e:
        lobflow.Weights.load(p)
    assert str(e.value) == f"{p}:4: not UTF-8 text: byte 0xe9 at column 6"
    with pytest.raises(lobflow.WeightsFormatError, match=rf"^{re.escape(str(p))}:4: not UTF-8"):
        lobflow.Engine(p)


def test_constructor_validates() -> None:
    with pytest.raises(ValueError, match="18 weights"):
        lobflow.Weights((10, 20, 50), 0.0, 0.0, (1.0,) * 17)
    with pytest.raises(ValueError, match="ascending"):
        lobflow.Weights((20, 10, 50), 0.0, 0.0, (1.0,) * 18)
    with pytest.raises(ValueError, match="threshold"):
        lobflow.Weights((10, 20, 50), -1.0, 0.0, (1.0,) * 18)


def test_windows_stop_at_2_to_the_63_ms(tmp_path: Path) -> None:
    longest = lobflow.Weights((10, 20, 2**63 - 1), 0.0, 0.0, (1.0,) * 18)
    assert lobflow.Weights.load(longest.save(tmp_path / "w.txt")) == longest
    with pytest.raises(ValueError, match=r"^windows_ms must be at most 2\^63 - 1 ms"):
        lobflow.Weights((10, 20, 2**63), 0.0, 0.0, (1.0,) * 18)
    # The parser (which Python loads through) holds the same bound, naming path and line.
    p = tmp_path / "long.txt"
    p.write_text(longest.to_text().replace(str(2**63 - 1), str(2**63)))
    with pytest.raises(lobflow.WeightsFormatError, match=rf"{p}:2: .*below 2\^63"):
        lobflow.Weights.load(p)


def test_a_failed_save_leaves_no_file_behind(tmp_path: Path) -> None:
    (tmp_path / "w.txt").mkdir()
    with pytest.raises(OSError, match=r"w\.txt"):
        W.save(tmp_path / "w.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.txt"]


def test_indented_comments_are_comments_in_python_too() -> None:
    text = W.to_text().replace("# hello\n", "# hello\n\t#  indented \n")
    assert lobflow.Weights.from_text(text).comments == ("hello", "indented")


def test_constructor_refuses_fractions_and_non_numbers() -> None:
    coef = (1.0,) * 18
    with pytest.raises(
        ValueError, match=r"windows_ms must be whole milliseconds, got \(10\.5, 20, 50\)"
    ):
        lobflow.Weights((10.5, 20, 50), 0.0, 0.0, coef)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="windows_ms must be whole"):
        lobflow.Weights((10, 20, float("nan")), 0.0, 0.0, coef)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="windows_ms must be a number, got '10'"):
        lobflow.Weights(("10", 20, 50), 0.0, 0.0, coef)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"threshold must be a number, got '0\.5'"):
        lobflow.Weights((10, 20, 50), "0.5", 0.0, coef)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bias must be a number, got None"):
        lobflow.Weights((10, 20, 50), 0.5, None, coef)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"coef must be a number, got '1\.0'"):
        lobflow.Weights((10, 20, 50), 0.5, 0.0, ("1.0",) * 18)  # type: ignore[arg-type]
    # Whole numbers of any numeric type stay accepted, as before.
    w = lobflow.Weights(np.array([10.0, 20.0, 50.0]), np.float32(0.5), np.int64(1), np.ones(18))  # type: ignore[arg-type]
    assert w == lobflow.Weights((10, 20, 50), 0.5, 1.0, coef)
    assert all(type(x) is int for x in w.windows_ms)
    assert type(w.threshold) is float
    assert type(w.bias) is float


def test_score_and_signal_match_the_engine_rule() -> None:
    x = np.random.default_rng(0).normal(size=(100, 18))
    s = W.score(x)
    np.testing.assert_allclose(s, W.bias + x @ np.array(W.coef), rtol=1e-12, atol=1e-12)
    sig = W.signal(np.array([0.85, 0.86, -0.85, -0.86]))
    assert sig.tolist() == [0, 1, 0, -1]
