"""Shared fixtures: where ../shared lives, and skipping cleanly where it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout (specs, exchange payloads, real data)."""
    if not SHARED.is_dir():
        pytest.skip("../shared is absent")
    return SHARED


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Real Binance books in ../shared/data (never copied into the repo)."""
    data = SHARED / "data"
    if not any(data.glob("*.parquet")):
        pytest.skip("../shared/data has no parquet files")
    return data


@pytest.fixture(scope="session")
def payloads() -> Path:
    """Real and documented exchange response bodies in ../shared/exchange-payloads."""
    p = SHARED / "exchange-payloads"
    if not p.is_dir():
        pytest.skip("../shared/exchange-payloads is absent")
    return p
