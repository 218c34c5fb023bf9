"""`python server.py stats` (issue 17): a month's KPIs as terminal tables, for one
tenant or every tenant, the last complete month by default; mistakes are one
`error:` line naming the flag."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

import cli_analytics
from domain import clock
from tests.domain.reports.kpi_book import kpi_book

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "COLUMNS")}
    return subprocess.run(
        [sys.executable, str(ROOT / "server.py"), *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(ROOT), "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


async def test_a_tenants_month_as_tables(db: str, tmp_path: Path) -> None:
    book = await kpi_book()
    tenant = book.tenant.public_id
    result = _cli("stats", "--tenant", tenant, "--month", "2026-02", cwd=tmp_path, url=db)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"{tenant} · KPIs of February 2026" in out
    for figure in [
        "MRR at the end",
        "€40.00",  # EUR MRR on Feb 28
        "€480.00",  # its ARR
        "-€10.00",  # Ann's churn
        "€60.00",  # collected
        "50.00%",  # logo churn, NRR, GRR
        "$12.00",  # USD, apart
        "$144.00",
        "Receivables on Feb 28, 2026",
        "MRR by month",
        "March 2025",
        "Cohorts: customers still paying",
        "100.00% (2)",
    ]:
        assert figure in out, figure
    assert _error(_cli("stats", "--month", "2026-13", cwd=tmp_path, url=db)).endswith("(--month)")
    missing = _cli("stats", "--tenant", "ten_nope", cwd=tmp_path, url=db)
    assert "no tenant ten_nope (--tenant)" in _error(missing)


async def test_the_last_complete_month_by_default(db: str) -> None:
    book = await kpi_book()
    out = io.StringIO()
    with clock.frozen_at(datetime(2026, 3, 10, tzinfo=UTC)):
        status = await cli_analytics.stats(
            book.tenant.public_id, None, console=Console(file=out, width=160)
        )
    assert status == 0
    assert "KPIs of February 2026" in out.getvalue() and "€40.00" in out.getvalue()


def test_every_tenant_by_default(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'stats.sqlite3'}"
    assert _cli("migrate", cwd=tmp_path, url=url).returncode == 0
    for name in ("Acme", "Globex"):
        made = _cli(
            *("create-tenant", "--name", name, "--country", "FR", "--currency", "EUR"),
            cwd=tmp_path,
            url=url,
        )
        assert made.returncode == 0, made.stderr
    result = _cli("stats", cwd=tmp_path, url=url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("No revenue, cash or receivables this month.") == 2
    assert "Acme" in result.stdout and "Globex" in result.stdout
