"""The command line as an operator meets it: one `error:` line naming the variable or
the flag at fault, never a traceback; the printed URLs follow HOST and PORT."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PORT", "HOST")}
    return subprocess.run(
        [sys.executable, str(ROOT / "server.py"), *args],
        cwd=cwd,
        env={**base, "PYTHONPATH": str(ROOT), "TALLY_SECRET_KEY": "cli-test-0123456789", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"PORT": "abc"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"WORKER_INTERVAL_SECONDS": "soon"}, "WORKER_INTERVAL_SECONDS"),
        ({"DATABASE_URL": "mysql://root@127.0.0.1/tally"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1:1/tally"}, "127.0.0.1:1/tally"),
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1:notaport/x"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://nosuchuser:x@127.0.0.1:5432/x"}, "127.0.0.1:5432/x"),
    ],
)
def test_bad_configuration_is_one_line(tmp_path: Path, env: dict[str, str], names: str) -> None:
    assert names in _one_error_line(_cli("seed-demo", cwd=tmp_path, **env))


def test_flag_errors_name_the_flag_and_urls_follow_port(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'cli.sqlite3'}"
    migrated = _cli("migrate", cwd=tmp_path, DATABASE_URL=url)
    assert migrated.returncode == 0, migrated.stderr
    assert "Tortoise-ORM shutdown" not in migrated.stdout + migrated.stderr

    bad = _cli(
        *("create-tenant", "--name", "Acme", "--country", "FR", "--currency", "ZZZ"),
        cwd=tmp_path,
        DATABASE_URL=url,
    )
    assert _one_error_line(bad).endswith("(--currency)")
    missing = _cli(
        *("create-api-key", "--tenant", "ten_nope", "--role", "admin"),
        cwd=tmp_path,
        DATABASE_URL=url,
    )
    assert "(--tenant)" in _one_error_line(missing)
    unmigrated = _cli("create-api-key", "--tenant", "ten_nope", "--role", "admin", cwd=tmp_path)
    assert "has `migrate` run?" in _one_error_line(unmigrated)

    seeded = _cli("seed-demo", cwd=tmp_path, DATABASE_URL=url, PORT="8123")
    assert seeded.returncode == 0, seeded.stderr
    assert "http://127.0.0.1:8123/graphql" in seeded.stdout
    assert ":8000" not in seeded.stdout


def test_help_lists_the_environment(tmp_path: Path) -> None:
    for args in (("--help",), ("serve", "--help")):
        shown = _cli(*args, cwd=tmp_path)
        assert shown.returncode == 0
        for variable in ("DATABASE_URL", "REDIS_URL", "PORT", "TALLY_SECRET_KEY", "PUBLIC_URL"):
            assert variable in shown.stdout


def test_calculate_royalties_and_verify_ledger(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'royalties.sqlite3'}"
    assert _cli("migrate", cwd=tmp_path, DATABASE_URL=url).returncode == 0
    assert _cli("seed-demo", cwd=tmp_path, DATABASE_URL=url).returncode == 0
    ran = _cli("calculate-royalties", "--period", "2026-01", cwd=tmp_path, DATABASE_URL=url)
    assert ran.returncode == 0, ran.stderr
    assert "2026-01: completed" in ran.stdout and "payees" in ran.stderr  # the progress bar
    again = _cli("calculate-royalties", "--period", "2026-01", cwd=tmp_path, DATABASE_URL=url)
    assert "2026-01: already complete" in again.stdout
    checked = _cli("verify-ledger", cwd=tmp_path, DATABASE_URL=url)
    assert checked.returncode == 0, checked.stderr
    assert "2 royalty payees checked, 0 mismatched" in checked.stdout
    bad = _cli("calculate-royalties", "--period", "2026-13", cwd=tmp_path, DATABASE_URL=url)
    assert "(--period)" in _one_error_line(bad)
    early = _cli("calculate-royalties", "--period", "2999-01", cwd=tmp_path, DATABASE_URL=url)
    assert "has not ended" in _one_error_line(early)
