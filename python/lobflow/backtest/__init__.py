"""lobflow.backtest (being filled in by its owner)."""
