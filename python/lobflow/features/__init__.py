"""The 18 contract features in polars: `lobflow.features.compute`."""

from __future__ import annotations

from lobflow._schema import BOOK_COLUMNS, FEATURE_NAMES, feature_names
from lobflow.features._compute import compute, labels
from lobflow.features._sink import sink

__all__ = ["BOOK_COLUMNS", "FEATURE_NAMES", "compute", "feature_names", "labels", "sink"]
