"""Tenant-wide exports (issue 17): filters checked before anything is read, then the
rows read in keyset batches, so an export of any size holds one batch in memory.

    export = await open_export(principal, "invoices", [("status", "paid")])
    async for rows in export.batches(): ...   # rows: the columns' values, then the key

Each batch is one statement, `… AND t.id > $last ORDER BY t.id LIMIT n`, on the
primary key: it starts where the last one ended whatever the filters, and costs the
same on the thousandth batch as on the first (an OFFSET would rescan). An export is
not a snapshot: a row committed while it runs appears if its id is above the batch
being read, and a row updated is read as it is when its batch is read.

Values come out as Python values whatever the database: instants as aware UTC
datetimes, booleans as bool, JSON documents as their text, money as int minor units.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.models import Model

from db.invoice_models import Invoice
from db.models import Customer, Plan, Subscription
from db.raw import fetch_rows, is_postgres, portable
from db.royalty_models import Payee
from db.usage_models import BillableMetric
from domain import bounds, validation
from domain.errors import NotFoundError, ValidationError
from domain.ids import check_id
from domain.money import normalise_currency, shown
from domain.reports.kinds import KINDS, By, Cell, Filter, Kind
from domain.royalties.settings import RoyaltyPeriod
from domain.tenancy.access import Permission, Principal

BATCH = 10_000  # rows per statement: ~1.2 MB of CSV, ~10 MB of rows; all an export holds
Row = Sequence[Any]

_LOOKUP: dict[str, type[Model]] = {
    "customer": Customer,
    "subscription": Subscription,
    "plan": Plan,
    "invoice": Invoice,
    "payee": Payee,
}
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
# An unencoded `+` in a query string arrives as a space: `…T00:00:00 01:00`.
_SPACED_OFFSET = re.compile(r" (\d\d(?::?\d\d)?)$")


class UnknownParameter(ValidationError):
    code = "UNKNOWN_PARAMETER"


@dataclass(frozen=True, slots=True)
class Export:
    kind: Kind
    where: str  # the filters, with `$n` placeholders
    values: tuple[Any, ...]  # their values
    batch: int = BATCH

    @property
    def sql(self) -> str:
        """A batch: the columns, then the key; the keyset's `$n` is the last placeholder."""
        columns = ", ".join(c.sql for c in self.kind.columns)
        return (
            f"SELECT {columns}, t.id FROM {self.kind.table} t {self.kind.joins} "
            f"WHERE {self.where} AND t.id > ${len(self.values) + 1} "
            f"ORDER BY t.id LIMIT {int(self.batch)}"
        )

    async def batches(self) -> AsyncIterator[Sequence[Row]]:
        """Non-empty lists of rows, each row its columns' values in order, then (on
        PostgreSQL) the row's key: copying every row to drop it cost a tenth of an
        export's time."""
        width = len(self.kind.columns)
        conn = Customer._meta.db
        postgres = is_postgres(conn)
        tidy = None if postgres else _sqlite_tidier(self.kind)
        sql = self.sql if postgres else portable(conn, self.sql)
        last = 0
        while True:
            if postgres:
                rows: Sequence[Any] = await fetch_rows(Customer, sql, [*self.values, last])
            else:
                rows = (await conn.execute_query(sql, [*self.values, last]))[1]
            if not rows:
                return
            last = rows[-1][width]  # the key, selected after the columns
            yield rows if tidy is None else [tidy(r) for r in rows]
            if len(rows) < self.batch:
                return


async def open_export(
    principal: Principal,
    kind_name: str,
    params: Iterable[tuple[str, str]],
    *,
    batch: int | None = None,
) -> Export:
    """The export of `kind_name` with the given query parameters, every value checked
    (and every id looked up in the caller's tenant) before a row is read: a bad one
    is a ValidationError naming its parameter, an unknown id a NotFoundError."""
    principal.require(Permission.ANALYTICS_READ)
    kind = KINDS.get(kind_name)
    if kind is None:
        raise NotFoundError(
            f"no export {shown(kind_name)}: one of {', '.join(KINDS)}", field="kind"
        )
    given = _single_values(kind, params)
    where, values = ["t.tenant_id = $1"], [principal.tenant_id]

    def compare(sql: str, op: str, value: Any) -> None:
        values.append(value)
        where.append(f"{sql} {op} ${len(values)}")

    start, end = _instant(given, "from"), _instant(given, "to")
    if start is not None and end is not None and start > end:
        raise ValidationError("from must not be after to", field="from")
    if kind.time_is_period:  # a month is in the window when its first instant is
        if start is not None:
            compare(kind.time, ">=", _first_period_from(start))
        if end is not None:
            compare(kind.time, "<", _first_period_from(end))
    else:
        if start is not None:
            compare(kind.time, ">=", start)
        if end is not None:
            compare(kind.time, "<", end)
    for spec in kind.filters:
        if spec.param in given:
            compare(spec.sql, "=", await _filter_value(principal, spec, given[spec.param]))
    return Export(kind, " AND ".join(where), tuple(values), batch or BATCH)


def _single_values(kind: Kind, params: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A typo'd filter would silently export everything, and a repeated one is
    ambiguous: both are refused, as is an empty value."""
    given: dict[str, str] = {}
    for name, value in params:
        if name not in kind.params:
            raise UnknownParameter(
                f"{shown(name)} is not a filter of {kind.name}: use {', '.join(kind.params)}",
                field=name,
            )
        if name in given:
            raise ValidationError(f"{name} is given more than once", field=name)
        if not value.strip():
            raise ValidationError(f"{name} is empty", field=name)
        given[name] = value.strip()
    return given


def _instant(given: dict[str, str], name: str) -> datetime | None:
    raw = given.get(name)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(_SPACED_OFFSET.sub(r"+\1", raw))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValidationError(
            f"{name} must be an ISO 8601 instant with a time zone (2026-01-31T00:00:00Z), "
            f"not {shown(raw)}",
            field=name,
            code="INVALID_DATETIME",
        )
    # UTC, as stored: SQLite compares the text Tortoise wrote (+00:00).
    return bounds.instant(parsed, field=name).astimezone(UTC)


def _first_period_from(at: datetime) -> str:
    """The first month starting at or after `at`."""
    period = RoyaltyPeriod.of(at)
    return str(period if period.start == at else RoyaltyPeriod.from_index(period.index + 1))


async def _filter_value(principal: Principal, spec: Filter, raw: str) -> Any:
    if spec.by is By.PUBLIC_ID:
        check_id(raw, spec.id_kind, field=spec.param)
        model = _LOOKUP[spec.table]
        found = await model.filter(tenant_id=principal.tenant_id, public_id=raw).values_list(
            "id", flat=True
        )
        if not found:
            raise NotFoundError(f"no {spec.param} {raw}", field=spec.param)
        return found[0]
    if spec.by is By.METRIC_CODE:
        found = await BillableMetric.filter(tenant_id=principal.tenant_id, code=raw).values_list(
            "id", flat=True
        )
        if not found:
            raise NotFoundError(f"no metric {shown(raw)}", field=spec.param)
        return found[0]
    if spec.by is By.CHOICE:
        if raw.lower() not in spec.choices:
            raise ValidationError(
                f"{spec.param} is one of {', '.join(spec.choices)}, not {shown(raw)}",
                field=spec.param,
            )
        return raw.lower()
    if spec.by is By.CURRENCY:
        return normalise_currency(raw, field=spec.param)
    if spec.by is By.COUNTRY:
        return validation.country(raw, field=spec.param)
    if spec.by is By.PERIOD:
        return str(RoyaltyPeriod.parse(raw, field=spec.param))
    if not _CODE.match(raw):
        raise ValidationError(f"{shown(raw)} is not a {spec.param}", field=spec.param)
    return raw


def _sqlite_tidier(kind: Kind) -> Any:
    """SQLite hands back instants as the text Tortoise wrote and booleans as 0/1."""
    width = len(kind.columns)
    instants = [i for i, c in enumerate(kind.columns) if c.cell is Cell.DATETIME]
    flags = [i for i, c in enumerate(kind.columns) if c.cell is Cell.BOOL]

    def tidy(row: Row) -> list[Any]:
        out = list(row[:width])
        for i in instants:
            if isinstance(out[i], str):
                at = datetime.fromisoformat(out[i])
                out[i] = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        for i in flags:
            if out[i] is not None:
                out[i] = bool(out[i])
        return out

    return tidy
