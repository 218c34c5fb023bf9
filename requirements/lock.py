"""The lock files behind `make run`, `make test`, CI and the Dockerfile.

    python requirements/lock.py refresh   # `make lock`: re-resolve with uv, write both locks
    python requirements/lock.py add       # after adding a dependency: resolve it, keep every other pin
    python requirements/lock.py check     # fail when pyproject.toml and the locks disagree

`test.txt` pins the whole tree the suite runs with (runtime and test tools); `run.txt`
is resolved under `test.txt` as a constraint, so a package has the same version in
both. Both hold the build backend (`build.in`), so installing Tally itself takes
nothing unpinned, and `uv.txt` pins the uv the Makefile fetches (the one that made
the locks: to move to a newer uv, upgrade it in .venv, then `make lock`). Both are universal (every platform, Python 3.11+) and carry every file's sha256,
so an install with `--require-hashes` takes exactly what was locked or nothing.

`add` runs the same resolution as `refresh` over the existing locks, which uv reads as
preferences: a package newly declared in pyproject.toml is resolved and pinned, every
package already locked keeps its version (unless the new one's range forces a move).
Check `git diff requirements/` before committing: it should only add lines.

Each lock's first line records a digest of pyproject.toml's dependency lists: editing
a range without refreshing the lock makes `check` (and the suite) fail.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
RUN_LOCK = ROOT / "requirements" / "run.txt"
TEST_LOCK = ROOT / "requirements" / "test.txt"
# What builds Tally itself (`pip install -e .` without build isolation, so the build
# backend is locked and hashed too) and the installer the Makefile fetches first.
BUILD_IN = ROOT / "requirements" / "build.in"
UV_LOCK = ROOT / "requirements" / "uv.txt"
DIGEST_PREFIX = "# pyproject-digest: "
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def declared() -> dict[str, list[str]]:
    """The dependency lists the locks are made from: pyproject.toml's, the build
    requirements and Python's range."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    build = [line.split("#")[0].strip() for line in BUILD_IN.read_text().splitlines()]
    return {
        "runtime": list(project.get("dependencies", [])),
        "test": list(project.get("optional-dependencies", {}).get("test", [])),
        "build": [line for line in build if line],
        "python": [f"python{project.get('requires-python', '')}"],
    }


def digest(lists: dict[str, list[str]]) -> str:
    canonical = {k: sorted(str(Requirement(r)) for r in v) for k, v in lists.items()}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def pins(lock: Path) -> dict[str, str]:
    """Package (canonical name) -> pinned version."""
    out: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            out[canonicalize_name(match.group(1))] = match.group(2)
    return out


def problems() -> list[str]:
    lists = declared()
    want = DIGEST_PREFIX + digest(lists)
    found: list[str] = []
    for lock in (RUN_LOCK, TEST_LOCK, UV_LOCK):
        if not lock.exists():
            found.append(f"{lock.name} is missing: run `make lock`")
            continue
        text = lock.read_text()
        if lock is not UV_LOCK and text.splitlines()[0] != want:
            found.append(f"{lock.name} was made from other pyproject.toml dependencies")
        blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
        for block in blocks:
            if _PIN.match(block) and "--hash=sha256:" not in block:
                found.append(f"{lock.name}: {block.split()[0]} has no hash")
    if found:
        return [*found, "run `make lock`, then `make test`, and commit both"]
    run, test = pins(RUN_LOCK), pins(TEST_LOCK)
    scopes = (
        ("runtime", run),
        ("build", run),
        ("runtime", test),
        ("build", test),
        ("test", test),
    )
    for scope, locked in scopes:
        for spec in lists[scope]:
            req = Requirement(spec)
            version = locked.get(canonicalize_name(req.name))
            if version is None:
                found.append(f"{req.name} ({scope}) is not in the lock")
            elif not req.specifier.contains(version, prereleases=True):
                found.append(f"{req.name}=={version} does not satisfy {spec!r}")
    for name, version in run.items():
        if test.get(name) != version:
            found.append(f"{name}: run.txt pins {version}, test.txt {test.get(name)}")
    return found


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"  # the one the Makefile put in .venv
    if beside.exists():
        return str(beside)
    found = shutil.which("uv")
    if found is None:
        sys.exit("lock: uv is needed to refresh the locks (`make lock` installs it)")
    return found


def _compile(out: Path, *extra: str, sources: tuple[Path, ...] = (PYPROJECT, BUILD_IN)) -> None:
    subprocess.run(
        [
            *(_uv(), "pip", "compile", *map(str, sources), "--quiet", "--universal"),
            *("--python-version", "3.11", "--generate-hashes"),
            *("--custom-compile-command", "make lock", "-o", str(out), *extra),
        ],
        check=True,
        cwd=ROOT,
    )


def _compile_locks() -> None:
    # The test lock first: it is the tree the suite passes with; the runtime lock is
    # that tree's runtime part.
    _compile(TEST_LOCK, "--extra", "test")
    _compile(RUN_LOCK, "--constraint", str(TEST_LOCK))


def _write_digest() -> None:
    header = DIGEST_PREFIX + digest(declared()) + "\n"
    for lock in (TEST_LOCK, RUN_LOCK):
        text = lock.read_text()
        if text.startswith(DIGEST_PREFIX):  # uv normally rewrites the file without it
            text = text.split("\n", 1)[1]
        lock.write_text(header + text)


def add() -> None:
    """Resolve newly declared dependencies into the existing locks, keeping every
    existing pin (uv prefers the versions already in an output file)."""
    for lock in (TEST_LOCK, RUN_LOCK):
        if not lock.exists():
            sys.exit(f"lock: {lock.name} is missing: run `make lock`")
    _compile_locks()
    _write_digest()


def refresh() -> None:
    for lock in (TEST_LOCK, RUN_LOCK):
        lock.unlink(missing_ok=True)
    _compile_locks()
    version = subprocess.run([_uv(), "--version"], capture_output=True, text=True, check=True)
    pin = ROOT / "requirements" / "uv.in"
    pin.write_text(f"uv=={version.stdout.split()[1]}\n")
    UV_LOCK.unlink(missing_ok=True)
    _compile(UV_LOCK, sources=(pin,))
    pin.unlink()
    _write_digest()


def main(argv: list[str]) -> int:
    if argv[1:] in (["refresh"], ["add"]):
        refresh() if argv[1] == "refresh" else add()
        argv = [argv[0], "check"]
    if argv[1:] == ["check"]:
        found = problems()
        for line in found:
            print("lock:", line)
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
