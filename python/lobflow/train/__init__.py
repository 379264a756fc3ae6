"""lobflow.train (being filled in by its owner)."""
