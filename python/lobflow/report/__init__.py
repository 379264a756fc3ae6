"""Self-contained HTML report (PNGs embedded and written alongside) and a terminal summary."""

from __future__ import annotations

from lobflow.report._build import build_report
from lobflow.report._explain import describe_costs, explain, explain_training
from lobflow.report._html import ic_by_horizon, summary_table, write_report

__all__ = [
    "build_report",
    "describe_costs",
    "explain",
    "explain_training",
    "ic_by_horizon",
    "summary_table",
    "write_report",
]
