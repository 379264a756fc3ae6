"""The README is a user's first page: every command has its row, every link stays in the repo."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from lobflow.cli import app

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_command_has_a_row_in_the_readme() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    rows = set(re.findall(r"^\| `([a-z0-9-]+)` \|", README, flags=re.MULTILINE))
    missing = sorted(set(group.commands) - rows)
    assert not missing, f"commands without a row in README.md's table: {missing}"


def test_the_readmes_links_stay_in_the_repo_and_exist() -> None:
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [t for t in targets if not t.startswith(("http://", "https://"))]
    assert local
    for t in local:
        assert not t.startswith(".."), f"README.md links outside the repo: {t}"
        assert (ROOT / t).exists(), f"README.md links a missing file: {t}"
