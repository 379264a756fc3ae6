"""The collector's Python surface: typed signatures and modules without import cycles."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import lobflow
from lobflow.collect import acollect, collect


def test_collect_has_the_keywords_of_acollect_not_kwargs() -> None:
    sync = inspect.signature(collect).parameters
    asyn = inspect.signature(acollect).parameters
    assert all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in sync.values())
    assert list(sync) == list(asyn)
    for name, p in sync.items():
        assert p.default == asyn[name].default, name
        assert p.annotation == asyn[name].annotation, name


def _imports(path: Path, package: str, *, typing: bool) -> set[str]:
    """The lobflow modules a file imports (with `typing`, its type-checking imports too)."""
    tree = ast.parse(path.read_text())
    skip: set[ast.AST] = set()
    if not typing:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skip.update(ast.walk(node))
    found = set()
    for node in ast.walk(tree):
        if node in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1]) + f".{node.module}"
            found.add(base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.startswith("lobflow")}


def test_the_collector_and_errors_modules_have_no_import_cycle() -> None:
    # errors.py names CollectStats for its `stats` field and the poller raises CollectorError:
    # the stats live in their own module so that neither imports the other. (Type-only
    # references, such as a Venue's stream() and the stream's venue, are not import cycles.)
    root = Path(lobflow.__file__).parent
    files = {"lobflow.errors": root / "errors.py"}
    for f in (root / "collect").rglob("*.py"):
        rel = f.relative_to(root.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        if ".sim" not in name:  # the simulated venue is its own package
            files[name] = f
    graph = {
        name: {m for m in _imports(f, name, typing=False) if m in files and m != name}
        for name, f in files.items()
    }

    # Package __init__ files re-export: an edge into a package is an edge into its __init__,
    # which only leaves modules; cycles through them are the ones that matter.
    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return [*path, nxt]
                if nxt not in path and files[nxt].name != "__init__.py":
                    stack.append((nxt, [*path, nxt]))
        return None

    for name in graph:
        if files[name].name != "__init__.py":
            assert cycle_from(name) is None, cycle_from(name)
    # Not even for type checking: errors.py names the stats module, not the poller.
    assert "lobflow.collect.poller" not in _imports(files["lobflow.errors"], "lobflow", typing=True)
