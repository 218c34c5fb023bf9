"""Every module of ours can be imported first.

An import cycle makes imports order-dependent: the suite, the server and the CLI
all import modules in one order and pass, while a worker, a script or a test that
imports the cycle's other end first fails with an ImportError. So each module of
api, schema, resolvers, domain and db, and server.py and cli.py, is imported as the
first module of ours in a fresh interpreter. One child process does it for all of
them: before each, it forgets every module of ours (third-party ones stay loaded,
which only saves time), so each import starts from none of ours loaded.

import-linter (`make test`) checks the declared contracts statically; this test
checks what actually happens at import time, function-level imports aside.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("api", "schema", "resolvers", "domain", "db")
ENTRY_POINTS = ("server", "cli")

# Run in the child: import each module named on stdin with none of ours loaded
# before it, and report the first failure of each as JSON.
_CHILD = """
import importlib, json, sys, traceback

ours = set(sys.argv[1:])
failures = []
for name in json.load(sys.stdin):
    for loaded in [m for m in sys.modules if m.split(".")[0] in ours]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except BaseException:
        failures.append([name, traceback.format_exc(limit=-6)])
print(json.dumps(failures))
"""


def our_modules() -> list[str]:
    """Every module of the five packages, found on disk (not by importing them)."""
    found = list(ENTRY_POINTS)
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found.append(".".join(parts))
    return found


def test_the_module_list_covers_every_package() -> None:
    modules = our_modules()
    assert len(modules) == len(set(modules))
    for name in (*PACKAGES, *ENTRY_POINTS, "domain.credits.rules", "api.schema"):
        assert name in modules


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    modules = our_modules()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *PACKAGES, *ENTRY_POINTS],
        input=json.dumps(modules),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    report = "\n\n".join(f"{name} cannot be imported first:\n{trace}" for name, trace in failures)
    assert not failures, report
