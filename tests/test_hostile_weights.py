"""A weights file over `MAX_WEIGHTS_BYTES` is refused having read at most one byte past it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import lobflow
from lobflow.weights import MAX_WEIGHTS_BYTES

W = lobflow.Weights((10, 20, 50), 0.5, 0.25, tuple(float(i) for i in range(18)), ("provenance",))


def test_the_limit_is_a_mebibyte() -> None:
    assert MAX_WEIGHTS_BYTES == 1 << 20


def test_megabytes_of_blank_lines_are_refused_by_size(tmp_path: Path) -> None:
    p = tmp_path / "blank.txt"
    header, body = W.to_text().split("\n", 1)
    p.write_text(header + "\n" + "\n" * (2 * MAX_WEIGHTS_BYTES) + body)
    with pytest.raises(lobflow.WeightsFormatError, match=rf"^{p}: larger than 1,048,576 bytes"):
        lobflow.Weights.load(p)
    with pytest.raises(lobflow.WeightsFormatError, match=r"^<string>: larger than"):
        lobflow.Weights.from_text(p.read_text())


def test_a_file_just_under_the_limit_loads_with_its_comments(tmp_path: Path) -> None:
    header, body = W.to_text().split("\n", 1)
    comment = "# " + "x" * 98 + "\n"  # 101 bytes
    room = MAX_WEIGHTS_BYTES - len(W.to_text().encode())
    p = tmp_path / "w.txt"
    p.write_text(header + "\n" + comment * (room // len(comment)) + "\n" * (room % 101) + body)
    assert p.stat().st_size == MAX_WEIGHTS_BYTES
    back = lobflow.Weights.load(p)
    assert back == W
    assert len(back.comments) == room // len(comment) + 1
    assert back.comments[-1] == "provenance"
    p.write_text(p.read_text() + "\n")
    with pytest.raises(lobflow.WeightsFormatError, match="larger than"):
        lobflow.Weights.load(p)


def test_comments_are_the_parsers_comment_lines() -> None:
    text = W.to_text().replace("threshold", "  \t# indented\r\n# crlf \r\nthreshold")
    assert lobflow.Weights.from_text(text).comments == ("provenance", "indented", "crlf")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_is_refused_without_reading_it_all() -> None:
    # Bounded address space: reading /dev/zero to the end would raise MemoryError here (and
    # be killed by the OOM killer without the bound) instead of hanging the machine.
    code = (
        "import resource, lobflow\n"
        "resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"
        "try:\n"
        "    lobflow.Weights.load('/dev/zero')\n"
        "except lobflow.WeightsFormatError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("/dev/zero: larger than 1,048,576 bytes"), out.stdout


def test_the_engine_refuses_an_oversized_file_too(tmp_path: Path) -> None:
    p = tmp_path / "w.txt"
    p.write_bytes(W.to_text().encode() + b"#" * MAX_WEIGHTS_BYTES)
    with pytest.raises(lobflow.WeightsFormatError, match="larger than"):
        lobflow.Engine(p)
