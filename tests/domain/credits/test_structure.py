"""The credits package's shape: the one statement is built from every guard, and
its modules import each other in one direction only (function-level imports
included, which tests/test_imports.py does not see)."""

from __future__ import annotations

import ast
from pathlib import Path

from domain.credits import fast_consume, guards
from domain.subscriptions import state_machine
from domain.subscriptions.statuses import ENTITLED_STATUSES

CREDITS = Path(fast_consume.__file__).parent


def test_the_statement_checks_every_guard_with_sql() -> None:
    """Each guard's fragment, numbered as the statement numbers its parameters."""
    numbers = {name: f"${i}" for i, name in enumerate(fast_consume._PARAMS, start=1)}
    for guard in guards.GUARDS:
        if guard.sql is not None:
            assert guard.sql.format_map(numbers) in fast_consume.STATEMENT, guard.name
    # Only a guard that reads nothing but the terms may go without a fragment.
    assert [g.name for g in guards.GUARDS if g.sql is None] == ["module in the plan"]
    assert all(g.refusal is not None for g in guards.REFUSALS)
    assert all(g.refusal is None for g in guards.LOCKED_PATH)


def _imports() -> dict[str, set[str]]:
    names = {p.stem for p in CREDITS.glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for name in names:
        tree = ast.parse((CREDITS / f"{name}.py").read_text())
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "domain.credits":
                    found.update(a.name for a in node.names if a.name in names)
                elif node.module.startswith("domain.credits."):
                    found.add(node.module.rsplit(".", 1)[1])
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("domain.credits."):
                        found.add(alias.name.rsplit(".", 1)[1])
        graph[name] = found & names
    return graph


def test_no_import_cycle_inside_credits() -> None:
    graph = _imports()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_entitled_statuses_have_one_definition() -> None:
    assert state_machine.LIVE is ENTITLED_STATUSES
    for path in CREDITS.glob("*.py"):
        assert "'trialing', 'active'" not in path.read_text(), path.name
