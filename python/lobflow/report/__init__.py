"""Self-contained HTML report (PNGs embedded and written alongside) and a terminal summary."""

from __future__ import annotations

from lobflow.report._html import ic_by_horizon, summary_table, write_report

__all__ = ["ic_by_horizon", "summary_table", "write_report"]
