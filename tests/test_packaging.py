"""`make run` installs only the runtime dependencies (`pip install -e .`), not the
test tools: every third-party module the server imports must come from a declared
runtime dependency or from what those depend on. (httpx, used by the webhook
worker, was once only a test dependency, and `make run` failed on a clean machine.)"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
SERVER_CODE = [
    "server.py",
    "cli.py",
    "cli_analytics.py",
    "cli_royalties.py",
    "api",
    "domain",
    "db",
    "resolvers",
    "schema",
]
OWN = {
    "server",
    "cli",
    "cli_analytics",
    "cli_royalties",
    "api",
    "domain",
    "db",
    "resolvers",
    "schema",
}


def _name(requirement: Requirement | str) -> str:
    name = requirement.name if isinstance(requirement, Requirement) else requirement
    return name.lower().replace("_", "-")


def _runtime_distributions() -> set[str]:
    """The declared runtime dependencies and, transitively, what they require with
    the extras asked for, on this Python."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        if _name(req) in seen:
            continue
        seen.add(_name(req))
        for line in metadata.requires(_name(req)) or []:
            sub = Requirement(line)
            if sub.marker is None or any(
                sub.marker.evaluate({"extra": extra}) for extra in req.extras or {""}
            ):
                todo.append(sub)
    return seen


def _imported_modules() -> set[str]:
    found: set[str] = set()
    for entry in SERVER_CODE:
        path = ROOT / entry
        for file in [path] if path.is_file() else path.rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text())):
                if isinstance(node, ast.Import):
                    found |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found - OWN - set(sys.stdlib_module_names) - {"__future__"}


def test_the_server_imports_only_runtime_dependencies() -> None:
    provided = metadata.packages_distributions()
    runtime = _runtime_distributions()
    missing = {
        module: provided.get(module)
        for module in _imported_modules()
        if not {_name(d) for d in provided.get(module, [])} & runtime
    }
    assert not missing, f"imported by the server but not a runtime dependency: {missing}"
