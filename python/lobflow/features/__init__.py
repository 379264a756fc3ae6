"""lobflow.features (being filled in by its owner)."""
