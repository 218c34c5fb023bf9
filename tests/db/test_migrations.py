"""Migrations and the operator CLI, run as a user would: `python server.py …` on an
empty database (SQLite always; PostgreSQL in the PostgreSQL pass)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BACKEND, create_pg_database, drop_pg_database

ROOT = Path(__file__).resolve().parents[2]


def _cli(url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "TALLY_SECRET_KEY": "cli-test-secret-0123456789"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, str(ROOT / "server.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
async def empty_url(tmp_path: Path) -> object:
    if BACKEND == "postgres":
        url = await create_pg_database()
        yield url
        await drop_pg_database(url)
    else:
        yield f"sqlite://{tmp_path / 'fresh.sqlite3'}"


async def test_migrate_seed_and_keys_from_the_cli(empty_url: str, tmp_path: Path) -> None:
    first = _cli(empty_url, "migrate", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = _cli(empty_url, "migrate", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Applying" not in again.stdout + again.stderr  # a no-op the second time

    seeded = _cli(empty_url, "seed-demo", cwd=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    assert "admin API key (shown once): tly_" in seeded.stdout
    reseeded = _cli(empty_url, "seed-demo", cwd=tmp_path)
    assert reseeded.returncode == 0 and "already loaded" in reseeded.stdout
    tenant_id = next(
        line.split()[-1] for line in seeded.stdout.splitlines() if line.startswith("tenant:")
    )

    key = _cli(
        empty_url, "create-api-key", "--tenant", tenant_id, "--role", "service", cwd=tmp_path
    )
    assert key.returncode == 0 and "tly_" in key.stdout, key.stderr
    bad = _cli(
        empty_url,
        "create-api-key",
        "--tenant",
        "ten_0000000000000000",
        "--role",
        "admin",
        cwd=tmp_path,
    )
    assert bad.returncode != 0 and "no tenant" in bad.stderr

    made = _cli(
        empty_url,
        "create-tenant",
        "--name",
        "Acme",
        "--country",
        "DE",
        "--currency",
        "EUR",
        cwd=tmp_path,
    )
    assert made.returncode == 0 and "admin API key" in made.stdout, made.stderr
    refused = _cli(
        empty_url,
        "create-tenant",
        "--name",
        "Bad",
        "--country",
        "XX",
        "--currency",
        "EUR",
        cwd=tmp_path,
    )
    assert refused.returncode != 0 and "country" in refused.stderr
