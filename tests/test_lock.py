"""The lock files (requirements/run.txt, requirements/test.txt) are what `make run`,
`make test`, CI and the Dockerfile install: they must agree with pyproject.toml, hold
the whole runtime tree, and be what this suite is running with."""

from __future__ import annotations

import importlib.util
import re
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

from tests.test_packaging import _runtime_distributions

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("lock", ROOT / "requirements" / "lock.py")
assert _spec is not None and _spec.loader is not None
lock = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lock)

_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?:\s*;\s*(.+?))?\s*\\?$")


def _applicable_pins(path: Path) -> dict[str, str]:
    """Pins whose environment marker holds on this interpreter."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = _ENTRY.match(line)
        if match and (match.group(3) is None or Marker(match.group(3)).evaluate()):
            out[canonicalize_name(match.group(1))] = match.group(2)
    return out


def test_the_locks_agree_with_pyproject() -> None:
    assert lock.problems() == []


def test_an_edited_range_is_caught(tmp_path: Path, monkeypatch) -> None:
    edited = tmp_path / "pyproject.toml"
    text = lock.PYPROJECT.read_text().replace('"orjson>=3.13.0,<4"', '"orjson>=3.14.0,<4"')
    edited.write_text(text)
    monkeypatch.setattr(lock, "PYPROJECT", edited)
    assert any("other pyproject.toml dependencies" in p for p in lock.problems())


def test_the_runtime_lock_holds_everything_the_server_needs() -> None:
    pinned = _applicable_pins(lock.RUN_LOCK)
    missing = sorted(d for d in _runtime_distributions() if canonicalize_name(d) not in pinned)
    assert missing == [], f"make run would not install {missing}: run `make lock`"


def test_the_suite_runs_with_the_locked_versions() -> None:
    drift = {}
    for name, version in _applicable_pins(lock.TEST_LOCK).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            drift[name] = (version, installed)
    assert drift == {}, f"locked vs installed: {drift}; run `make test` to reinstall"
