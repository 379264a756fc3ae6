"""`make demo`: the whole pipeline on the bundled data (grown by each stage's owner)."""

from __future__ import annotations


def main() -> None:
    """Run the demo."""
    import lobflow

    print(f"lobflow {lobflow.__version__}: demo not yet assembled")


if __name__ == "__main__":
    main()
