"""Hand-written SQL for hot paths, portable between PostgreSQL and SQLite.

Queries are written with PostgreSQL's `$1, $2, …` placeholders, numbered in the
order they appear; on SQLite they become `?`. Rows can be turned back into model
instances (the same way Tortoise builds them from its own SELECTs), so a join that
reads several tables in one round trip still hands the caller ordinary models.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from tortoise.models import Model

M = TypeVar("M", bound=Model)
_MARK = re.compile(r"\$(\d+)")


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
    inside one)."""
    conn = model._meta.db
    return list(await conn.execute_query_dict(portable(conn, sql), params))
