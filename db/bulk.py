"""Set-based writes for the billing run: one prepared statement executed for many
rows (asyncpg pipelines them), without building an ORM object or a CASE
expression per row. Values go through each field's own `to_db_value`, so JSON,
datetimes and booleans are stored exactly as Tortoise would store them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise.models import Model


def _marks(conn: Any, count: int) -> list[str]:
    if conn.capabilities.dialect == "postgres":
        return [f"${i}" for i in range(1, count + 1)]
    return ["?"] * count


def _columns(model: type[Model], names: Sequence[str]) -> tuple[list[Any], list[str]]:
    fields = [model._meta.fields_map[name] for name in names]
    return fields, [field.source_field or name for name, field in zip(names, fields, strict=True)]


async def insert_many(
    model: type[Model], names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """INSERT `rows` (values in the order of `names`)."""
    if not rows:
        return
    conn = model._meta.db
    fields, columns = _columns(model, names)
    quoted = ", ".join('"' + c + '"' for c in columns)  # a column may be a reserved word
    sql = (
        f"INSERT INTO {model._meta.db_table} ({quoted}) "
        f"VALUES ({', '.join(_marks(conn, len(columns)))})"
    )
    values = [
        [field.to_db_value(value, None) for field, value in zip(fields, row, strict=True)]
        for row in rows
    ]
    await conn.execute_many(sql, values)


async def update_many(model: type[Model], names: Sequence[str], objects: Sequence[Model]) -> None:
    """UPDATE the `names` columns of each object, by primary key."""
    if not objects:
        return
    conn = model._meta.db
    fields, columns = _columns(model, names)
    marks = _marks(conn, len(columns) + 1)
    # Quoted: a column may be a reserved word (usage_period.end).
    assignments = ", ".join(f'"{c}" = {m}' for c, m in zip(columns, marks, strict=False))
    sql = f"UPDATE {model._meta.db_table} SET {assignments} WHERE id = {marks[-1]}"
    values = [
        [
            field.to_db_value(getattr(obj, name), obj)
            for name, field in zip(names, fields, strict=True)
        ]
        + [obj.pk]
        for obj in objects
    ]
    await conn.execute_many(sql, values)


async def copy_many(
    model: type[Model], names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """`insert_many` for large batches of plain values (ints, strings, None,
    datetimes): PostgreSQL's COPY on the current transaction's connection, without
    a per-value conversion; SQLite inserts them."""
    if not rows:
        return
    conn = model._meta.db
    if conn.capabilities.dialect != "postgres":
        await insert_many(model, names, rows)
        return
    _, columns = _columns(model, names)
    async with conn.acquire_connection() as connection:
        await connection.copy_records_to_table(model._meta.db_table, records=rows, columns=columns)
