"""Series in SQL: which interval of a list of boundaries a row's time falls in,
computed by the database, so a series is one GROUP BY whatever the number of rows.

PostgreSQL has it built in: `width_bucket(t, bounds)` is the number of bounds ≤ t.
SQLite stores times as UTC text that sorts as time does ('2026-03-01 12:00:00+00:00',
fractions after the seconds), so the same number is a count over a JSON array of
bounds written the same way. Either way bucket k (from 1) is [bounds[k-1], bounds[k]).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson

from db.raw import is_postgres
from domain.errors import ValidationError

_NAME = re.compile(r"\{(\w+)\}")


def stamp(conn: Any, at: datetime) -> Any:
    """A time as the connection compares it: aware on PostgreSQL, Tortoise's UTC text
    on SQLite."""
    if is_postgres(conn):
        return at
    return at.astimezone(UTC).isoformat(sep=" ")


def bucket(conn: Any, column: str, name: str) -> str:
    """SQL for the 1-based bucket of `column` among the bounds bound as `{name}`
    (`bounds_param`)."""
    if is_postgres(conn):
        return f"width_bucket({column}, CAST({{{name}}} AS timestamptz[]))"
    return f"(SELECT COUNT(*) FROM json_each({{{name}}}) AS b WHERE b.value <= {column})"


def bounds_param(conn: Any, bounds: Sequence[datetime]) -> Any:
    if is_postgres(conn):
        return list(bounds)
    return orjson.dumps([stamp(conn, b) for b in bounds]).decode()


def numbered(sql: str, values: dict[str, Any]) -> tuple[str, list[Any]]:
    """`{name}` markers as `$1, $2, …` in order of appearance (db/raw.py's rule: each
    number used once), and the parameters in that order; a name used twice is bound
    twice."""
    params: list[Any] = []

    def mark(match: re.Match[str]) -> str:
        params.append(values[match.group(1)])
        return f"${len(params)}"

    return _NAME.sub(mark, sql), params


def utc_days(start: datetime, end: datetime, limit: int) -> list[datetime]:
    """[start, each UTC midnight after it, ..., end]: the UTC days of [start, end), the
    first and last cut to the range. At most `limit` days."""
    out = [start]
    at = datetime.combine(start.astimezone(UTC).date(), time(), UTC) + timedelta(days=1)
    while at < end:
        out.append(at)
        at += timedelta(days=1)
        if len(out) > limit:
            raise ValidationError(f"a daily series covers at most {limit} days", field="to")
    out.append(end)
    return out


def day_of(at: datetime) -> date:
    return at.astimezone(UTC).date()


def whole(value: Any) -> int:
    """An integer sum as read back (PostgreSQL's SUM of bigint is numeric; NULL is 0)."""
    return 0 if value is None else int(value)
