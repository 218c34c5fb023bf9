"""Test fixtures. The suite runs once on SQLite and, when TALLY_TEST_DB=postgres,
once more on a throw-away PostgreSQL database. Every test makes its own tenant, so
tests share one migrated database without seeing each other's rows."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tortoise import Tortoise

from db.config import tortoise_config
from domain import secrets_box
from domain.payments.providers import sandbox
from domain.settings import Settings
from domain.tenancy.access import Principal, Role
from tests.factories import make_tenant
from tests.smtp import smtp  # noqa: F401  (a fixture for every test module)

BACKEND = os.environ.get("TALLY_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_SECRET_KEY = "local-secret-key-0123456789"  # what Settings.for_database uses
secrets_box.configure(TEST_SECRET_KEY)
# CLI subprocesses started by tests read the same sealed secrets.
os.environ.setdefault("TALLY_SECRET_KEY", TEST_SECRET_KEY)


def pytest_report_header() -> str:
    return f"tally database backend: {BACKEND}"


async def _pg_admin() -> Any:
    import asyncpg

    return await asyncpg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://", 1), timeout=5)


async def create_pg_database() -> str:
    """A fresh, empty PostgreSQL database; returns its URL."""
    name = f"tally_test_{os.getpid()}_{secrets.token_hex(3)}"
    conn = await _pg_admin()
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    conn = await _pg_admin()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def migrate_and_open(url: str) -> None:
    from tortoise.migrations.api.migrate import migrate

    await migrate(config=tortoise_config(url))
    await Tortoise.close_connections()
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    if BACKEND == "postgres":
        try:
            url = await create_pg_database()
        except Exception as exc:  # unreachable server
            if IN_CI:
                pytest.fail(f"PostgreSQL is required in CI and is unreachable: {exc}")
            pytest.skip(f"PostgreSQL unreachable: {exc}")
        await migrate_and_open(url)
        yield url
        await Tortoise.close_connections()
        await drop_pg_database(url)
    else:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite://{Path(folder) / 'test.sqlite3'}"
            await migrate_and_open(url)
            yield url
            await Tortoise.close_connections()


@pytest.fixture
async def db(database_url: str) -> str:
    return database_url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings.for_database(database_url)


@pytest.fixture
def app(settings: Settings) -> Any:
    from server import create_app

    return create_app(settings, manage_db=False)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tally.test") as c:
        yield c


@pytest.fixture
async def sandbox_to_app(client: httpx.AsyncClient) -> AsyncIterator[None]:
    """The sandbox's webhooks reach the app through its real HTTP route."""

    async def send(tenant: str, body: bytes, headers: dict[str, str]) -> None:
        await client.post(f"/webhooks/sandbox/{tenant}", content=body, headers=headers)

    sandbox.configure_sender(send)
    yield
    await sandbox.flush()
    sandbox.configure_sender(None)


@pytest.fixture
async def tenant(db: str) -> Any:
    return await make_tenant()


@pytest.fixture
def admin(tenant: Any) -> Principal:
    return Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id=0)


@pytest.fixture
async def redis_url() -> str:
    from redis import asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"Redis is required in CI and is unreachable: {exc}")
        pytest.skip(f"Redis unreachable: {exc}")
    finally:
        await client.aclose()
    return REDIS_URL
