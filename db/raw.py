"""Hand-written SQL for hot paths, portable between PostgreSQL and SQLite.

Queries are written with PostgreSQL's `$1, $2, …` placeholders, numbered in the
order they appear; on SQLite they become `?`. Rows can be turned back into model
instances (the same way Tortoise builds them from its own SELECTs), so a join that
reads several tables in one round trip still hands the caller ordinary models.
"""

from __future__ import annotations

import logging
import re
from typing import Any, TypeVar

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.models import Model

M = TypeVar("M", bound=Model)
_MARK = re.compile(r"\$(\d+)")
_log = logging.getLogger("tortoise.db_client")


def is_postgres(conn: Any) -> bool:
    return bool(conn.capabilities.dialect == "postgres")


def portable(conn: Any, sql: str) -> str:
    """`$n` placeholders for the connection's dialect."""
    if is_postgres(conn):
        return sql
    numbers = [int(n) for n in _MARK.findall(sql)]
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError("placeholders must be $1, $2, … in order, each used once")
    return _MARK.sub("?", sql)


def columns(model: type[Model], alias: str) -> str:
    """`alias.col AS "alias__col", …` for every column of `model`."""
    return ", ".join(
        f'{alias}.{column} AS "{alias}__{column}"'
        for column in model._meta.fields_db_projection.values()
    )


def instance(model: type[M], row: dict[str, Any], alias: str) -> M:
    """The model instance for the `columns(model, alias)` part of a row."""
    prefix = f"{alias}__"
    values = {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}
    return model._init_from_db(**values)


async def fetch(model: type[Model], sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """Rows as dicts, on the connection `model` uses (the current transaction's,
    inside one).

    Outside a transaction on PostgreSQL the statement goes straight to asyncpg's
    pool: Tortoise's wrapper (connection context, logging, exception translation)
    costs about as much CPU as the round trip itself, which matters on the hot
    paths. Constraint violations are still raised as Tortoise's IntegrityError."""
    conn = model._meta.db
    pool = getattr(conn, "_pool", None) if type(conn) is AsyncpgDBClient else None
    if pool is None:
        return list(await conn.execute_query_dict(portable(conn, sql), params))
    if _log.isEnabledFor(logging.DEBUG):  # what db/querylog.py counts
        _log.debug("%s: %s", sql, params)
    try:
        async with pool.acquire() as connection:
            return [dict(row) for row in await connection.fetch(sql, *params)]
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(exc) from exc
    except (asyncpg.SyntaxOrAccessError, asyncpg.exceptions.DataError) as exc:
        raise OperationalError(exc) from exc


async def fetch_rows(model: type[Model], sql: str, params: list[Any]) -> list[Any]:
    """`fetch` for statements that return many rows read by column name (a batch's
    `RETURNING`, its locked aggregates): on PostgreSQL the asyncpg Records as they
    come, on the current transaction's connection inside one, without copying each
    into a dict; on SQLite the rows as dicts."""
    conn = model._meta.db
    if conn.capabilities.dialect != "postgres":
        return list(await conn.execute_query_dict(portable(conn, sql), params))
    if _log.isEnabledFor(logging.DEBUG):  # what db/querylog.py counts
        _log.debug("%s: %s", sql, params)
    try:
        async with conn.acquire_connection() as connection:
            return list(await connection.fetch(sql, *params))
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(exc) from exc
    except (asyncpg.SyntaxOrAccessError, asyncpg.exceptions.DataError) as exc:
        raise OperationalError(exc) from exc
