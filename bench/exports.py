"""Exports (issue 17) on PostgreSQL: 1,000,000 credit-ledger rows downloaded from a real
server process (uvicorn) as CSV, JSON and XLSX, against PostgreSQL's own
`COPY (SELECT <the same columns>) TO STDOUT WITH CSV` in the same run.

    .venv/bin/python -m bench exports [--rows 1000000] [--skip-xlsx]

For each format: rows per second from the request to the last byte, the time to the
first byte, and the server's peak RSS growth during the download (VmHWM, reset
through /proc/<pid>/clear_refs before each download, less the RSS before it). The
client is httpx, streaming, counting rows as bytes arrive; it holds nothing.
Targets: CSV >= 150,000 rows/s with RSS growth < 100 MB; XLSX >= 30,000 rows/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.harness import free_port, fresh_postgres
from domain.tenancy.access import Role
from domain.tenancy.api_keys import issue_key
from domain.tenancy.tenants import create_tenant

ROOT = Path(__file__).resolve().parents[1]
CUSTOMERS = 1_000
START = datetime(2025, 1, 1, tzinfo=UTC)
BASELINE = """
SELECT t.public_id, c.public_id, t.kind, t.amount, t.balance_after, t.module, t.action,
       t.quantity, t.request_id, t.reason, t.author, t.local_day, t.created_at
FROM credit_entry t JOIN customer c ON c.id = t.customer_id
WHERE t.tenant_id = {tenant} ORDER BY t.id
"""


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench exports", add_help=False)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-xlsx", action="store_true")
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known


async def _ids(conn: asyncpg.Connection, table: str, count: int) -> list[int]:
    rows = await conn.fetch(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1)",
        count,
    )
    return [r[0] for r in rows]


def _entries(
    tenant_id: int, customers: list[int], wallets: list[int], rows: int
) -> Iterator[tuple]:
    """A ledger as a busy tenant's: mostly consumptions (module, action, quantity,
    request id), a grant now and then with a reason and an author; one reason in a
    hundred starts with `-` (escaped in the CSV)."""
    for i in range(rows):
        n = i % CUSTOMERS
        at = START + timedelta(seconds=i * 7)
        if i % 20 == 0:
            reason = "-5 goodwill" if i % 100 == 0 else "monthly top-up"
            yield (f"cle_bench{i:011d}", tenant_id, wallets[n], customers[n], "grant", 500,
                   10_000 + i % 977, None, None, None, None, reason, "ops@example.com",
                   at.date().isoformat(), at)  # fmt: skip
        else:
            yield (f"cle_bench{i:011d}", tenant_id, wallets[n], customers[n], "consumption", -3,
                   10_000 + i % 977, "rag", "ask", 1, f"req-{i}", None, None,
                   at.date().isoformat(), at)  # fmt: skip


async def seed(dsn: str, rows: int) -> tuple[int, str]:
    tenant = await create_tenant(name="Bench", country="FR", default_currency="EUR")
    key = await issue_key(tenant_id=tenant.id, role=Role.ADMIN, name="bench")
    conn = await asyncpg.connect(dsn)
    try:
        customers = await _ids(conn, "customer", CUSTOMERS)
        await conn.copy_records_to_table(
            "customer",
            columns=(
                "id public_id created_at updated_at tenant_id name email address_line1 "
                "address_line2 city postal_code state country locale currency timezone "
                "metadata search_text status"
            ).split(),
            records=[
                (pk, f"cus_exp{pk:013d}", START, START, tenant.id, f"Customer {pk}",
                 f"c{pk}@example.com", "", "", "Paris", "75001", "", "FR", "en", "EUR", "UTC",
                 "{}", f"customer {pk}", "active")
                for pk in customers
            ],
        )  # fmt: skip
        wallets = await _ids(conn, "credit_wallet", CUSTOMERS)
        await conn.copy_records_to_table(
            "credit_wallet",
            columns=(
                "id tenant_id customer_id balance reserved consumed_total consumed_settled "
                "usage_day used_today blocked auto_blocked created_at updated_at"
            ).split(),
            records=[
                (w, tenant.id, c, 10_000, 0, 0, 0, "", 0, False, False, START, START)
                for w, c in zip(wallets, customers, strict=True)
            ],
        )
        await conn.copy_records_to_table(
            "credit_entry",
            columns=(
                "public_id tenant_id wallet_id customer_id kind amount balance_after module "
                "action quantity request_id reason author local_day created_at"
            ).split(),
            records=_entries(tenant.id, customers, wallets, rows),
        )
        await conn.execute("VACUUM ANALYZE credit_entry")
    finally:
        await conn.close()
    return tenant.id, key.secret


@contextlib.asynccontextmanager
async def server(url: str) -> AsyncIterator[tuple[int, int]]:
    """A uvicorn process on this database: (port, pid)."""
    port = free_port()
    code = (
        "import uvicorn, server; uvicorn.run(server.create_app(), host='127.0.0.1', "
        f"port={port}, access_log=False, log_level='warning')"
    )
    env = {**os.environ, "DATABASE_URL": url, "WORKER_INTERVAL_SECONDS": "0"}
    env.pop("REDIS_URL", None)
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)  # noqa: ASYNC220
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            await asyncio.sleep(0.1)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(10)


def _reset_peak(pid: int) -> None:
    """VmHWM back to the current RSS (Linux 4.0+), so each download has its own peak."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def _status(pid: int, field: str) -> int:
    """A /proc/<pid>/status figure in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


async def download(client: httpx.AsyncClient, path: str, key: str, pid: int) -> dict[str, Any]:
    """Streams one export; counts CSV lines or JSON objects as they come."""
    _reset_peak(pid)
    before = _status(pid, "VmRSS")
    marker = b"\r\n" if path.endswith(".csv") else b'"customer_id"'
    size = count = 0
    tail = b""
    first = None
    started = time.perf_counter()
    async with client.stream("GET", path, headers={"authorization": f"Bearer {key}"}) as answer:
        assert answer.status_code == 200, (await answer.aread())[:300]
        async for chunk in answer.aiter_raw():
            if first is None:
                first = time.perf_counter() - started
            size += len(chunk)
            joined = tail + chunk
            count += joined.count(marker) - tail.count(marker)
            tail = joined[-len(marker) :]
    elapsed = time.perf_counter() - started
    rows = count - 1 if path.endswith(".csv") else count  # less the header line
    return {
        "rows": rows,
        "seconds": round(elapsed, 2),
        "first_byte_ms": round((first or 0) * 1000, 1),
        "mb": round(size / 1e6, 1),
        "rss_growth_mb": round((_status(pid, "VmHWM") - before) / 1024, 1),
    }


async def copy_baseline(dsn: str, tenant_id: int) -> dict[str, Any]:
    """PostgreSQL writing the same columns as CSV itself, read by asyncpg."""
    size = lines = 0

    async def sink(chunk: bytes) -> None:
        nonlocal size, lines
        size += len(chunk)
        lines += chunk.count(b"\n")

    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await conn.copy_from_query(
            BASELINE.format(tenant=int(tenant_id)), output=sink, format="csv", header=True
        )
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    return {"rows": lines - 1, "seconds": round(elapsed, 2), "mb": round(size / 1e6, 1)}


async def run() -> dict[str, Any]:
    args = options()
    async with fresh_postgres() as url:
        dsn = url.replace("postgres://", "postgresql://", 1)
        started = time.perf_counter()
        tenant_id, key = await seed(dsn, args.rows)
        seeded = time.perf_counter() - started
        result: dict[str, Any] = {
            "benchmark": f"exports: {args.rows:,} credit-ledger rows over HTTP (uvicorn)",
            "seed_seconds": round(seeded, 1),
            "load_average_at_start": round(os.getloadavg()[0], 2),  # a shared machine
        }
        async with server(url) as (port, pid):
            timeout = httpx.Timeout(600.0)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=timeout
            ) as client:
                # Warm-up: imports, the pool, the statement cache.
                await download(
                    client, "/exports/credit-ledger.csv?to=2025-01-02T00:00:00Z", key, pid
                )
                result["server_rss_mb_at_start"] = round(_status(pid, "VmRSS") / 1024, 1)
                base = await copy_baseline(dsn, tenant_id)
                result["copy_rows_per_second"] = round(base["rows"] / base["seconds"])
                result["copy"] = base
                formats = ["csv", "json"] + ([] if args.skip_xlsx else ["xlsx"])
                for fmt in formats:
                    got = await download(client, f"/exports/credit-ledger.{fmt}", key, pid)
                    if fmt == "xlsx":
                        got["rows"] = args.rows  # not counted in the zip
                    per_second = round(got["rows"] / got["seconds"])
                    result[f"{fmt}_rows_per_second"] = per_second
                    result[f"{fmt}_vs_copy"] = round(per_second / result["copy_rows_per_second"], 3)
                    result[fmt] = got
                    assert got["rows"] == args.rows, got
        result["targets"] = "csv >= 150,000 rows/s and RSS growth < 100 MB; xlsx >= 30,000 rows/s"
        result["load_average_at_end"] = round(os.getloadavg()[0], 2)
    return result
