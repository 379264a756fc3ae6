"""lobflow.collect (being filled in by its owner)."""
