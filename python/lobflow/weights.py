"""`Weights`: a baked linear model in the weights file format (docs/weights-format.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lobflow import _core
from lobflow._files import atomic_write
from lobflow._schema import as_number, check_windows, feature_names
from lobflow.errors import WeightsFormatError

if TYPE_CHECKING:
    import os

    from numpy.typing import ArrayLike, NDArray

N_FEATURES = 18

#: The largest weights file (or text) `Weights` reads, in bytes. A file is ~1 KB: 21 lines of
#: numbers and a few comments. Without a limit `--weights /dev/zero` read until the OOM killer
#: ended the process, and 100 MB of blank lines took gigabytes to parse.
MAX_WEIGHTS_BYTES = 1 << 20

#: A comment line after the first (indented ones too, as the engine's parser takes them).
_COMMENT = re.compile(r"^[^\S\n]*#([^\n]*)$", re.MULTILINE)


@dataclass(frozen=True)
class Weights:
    """A linear model with its scaler baked in: ``score = bias + coef · features``.

    Reading goes through the Rust engine's parser, so a file ``Weights.load`` accepts is
    exactly a file the engine accepts.

    Examples
    --------
    >>> w = Weights((10, 20, 50), threshold=0.5, bias=1.0, coef=(0.0,) * 18)
    >>> Weights.from_text(w.to_text()) == w
    True
    >>> int(w.signal(w.score(np.zeros((1, 18))))[0])
    1
    """

    windows_ms: tuple[int, int, int]
    threshold: float
    bias: float
    coef: tuple[float, ...]
    comments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows_ms", check_windows(self.windows_ms))
        if isinstance(self.coef, str | bytes):
            msg = f"coef must be {N_FEATURES} numbers, got {self.coef!r}"
            raise TypeError(msg)
        coef = tuple(as_number("coef", c) for c in self.coef)
        if len(coef) != N_FEATURES:
            msg = f"coef must hold {N_FEATURES} weights, got {len(coef)}"
            raise ValueError(msg)
        threshold, bias = as_number("threshold", self.threshold), as_number("bias", self.bias)
        if not all(np.isfinite(coef)) or not np.isfinite(bias):
            raise ValueError("coef and bias must be finite")
        if not (np.isfinite(threshold) and threshold >= 0):
            msg = f"threshold must be finite and >= 0, got {self.threshold}"
            raise ValueError(msg)
        object.__setattr__(self, "coef", coef)
        object.__setattr__(self, "threshold", threshold)
        object.__setattr__(self, "bias", bias)
        object.__setattr__(self, "comments", tuple(self.comments))

    def __eq__(self, other: object) -> bool:
        # Comments are provenance, not part of the model.
        if not isinstance(other, Weights):
            return NotImplemented
        return (self.windows_ms, self.threshold, self.bias, self.coef) == (
            other.windows_ms,
            other.threshold,
            other.bias,
            other.coef,
        )

    def __hash__(self) -> int:
        return hash((self.windows_ms, self.threshold, self.bias, self.coef))

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The 18 feature names for this model's windows, in contract order."""
        return feature_names(self.windows_ms)

    def to_text(self) -> str:
        """The weights file text; every number is ``repr`` so it round-trips float64."""
        lines = ["# lobflow-weights v1"]
        lines += [f"# {line}" for c in self.comments for line in c.splitlines()]
        lines.append("windows_ms {} {} {}".format(*self.windows_ms))
        lines.append(f"threshold {self.threshold!r}")
        lines.append(f"bias {self.bias!r}")
        lines += [f"{n} {c!r}" for n, c in zip(self.feature_names, self.coef, strict=True)]
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the file atomically (temporary file, synced, then renamed) and return its path.

        A failed write leaves neither a partial file nor the temporary one.
        """
        text = self.to_text()

        def write(tmp: Path) -> None:
            tmp.write_text(text, encoding="utf-8")

        return atomic_write(Path(path), write)

    @classmethod
    def from_text(cls, text: str, source: str = "<string>") -> Weights:
        """Parse weights-file text; errors name ``source`` and the line.

        Text longer than `MAX_WEIGHTS_BYTES` (UTF-8) is a `WeightsFormatError`.
        """
        if len(text) > MAX_WEIGHTS_BYTES or len(text.encode()) > MAX_WEIGHTS_BYTES:
            raise _too_large(source)
        windows, threshold, bias, coef = _core.parse_weights(text, source)
        # One pass that builds only the comment lines (a list of every line cost 50 bytes per
        # blank one). The parser has checked that the first line is the header, a comment too.
        comments = tuple(m[1].strip() for m in _COMMENT.finditer(text) if m.start() > 0)
        return cls(windows, threshold, bias, tuple(coef), comments)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Weights:
        """Read a weights file; a malformed one raises `WeightsFormatError` with path:line.

        A file over `MAX_WEIGHTS_BYTES` is refused having read no more than one byte past it.
        """
        p = Path(path)
        with p.open("rb") as fh:
            data = fh.read(MAX_WEIGHTS_BYTES + 1)
        if len(data) > MAX_WEIGHTS_BYTES:
            raise _too_large(str(p))
        # Python's own decode error names neither the file nor the line; the engine's does.
        text = _core.weights_text(data, str(p))
        return cls.from_text(text, str(p))

    def score(self, features: ArrayLike) -> NDArray[np.float64]:
        """Scores of an (n, 18) feature matrix: bias + w·x in float64, feature by feature.

        The engine's worker sums the same terms in another order; the two agree to rounding.
        """
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != N_FEATURES:
            msg = f"features must have shape (n, {N_FEATURES}), got {x.shape}"
            raise ValueError(msg)
        s = np.full(x.shape[0], self.bias)
        for j, c in enumerate(self.coef):
            s += c * x[:, j]
        return s

    def signal(self, scores: ArrayLike) -> NDArray[np.int8]:
        """-1, 0 or +1 per score by the threshold."""
        s = np.asarray(scores, dtype=np.float64)
        out = np.zeros(s.shape, dtype=np.int8)
        out[s > self.threshold] = 1
        out[s < -self.threshold] = -1
        return out


def _too_large(source: str) -> WeightsFormatError:
    return WeightsFormatError(
        f"{source}: larger than {MAX_WEIGHTS_BYTES:,} bytes (MAX_WEIGHTS_BYTES), and a weights "
        "file is a few KB: is it the right file?"
    )
