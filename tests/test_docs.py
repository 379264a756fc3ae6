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
    lines = README.splitlines()
    start = lines.index("| command | what it does |")
    table = []
    for line in lines[start:]:  # the table ends at its first line that is not a row
        if not line.startswith("|"):
            break
        table.append(line)
    rows = {m[1] for line in table if (m := re.match(r"\| `([a-z0-9-]+)` \|", line))}
    missing = sorted(set(group.commands) - rows)
    assert not missing, f"commands without a row in README.md's table: {missing}"


def test_the_readmes_links_stay_in_the_repo_and_exist() -> None:
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [t for t in targets if not t.startswith(("http://", "https://"))]
    assert local
    for t in local:
        assert not t.startswith(".."), f"README.md links outside the repo: {t}"
        assert (ROOT / t).exists(), f"README.md links a missing file: {t}"
