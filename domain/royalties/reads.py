"""Recording reads of works (issue 16): what splits a period's subscription pool
between works, when the platform counts reads itself rather than sending them as
usage events or credit consumptions.

`record_reads(principal, items)` takes up to 1,000 items (more is a ValidationError
TOO_MANY_READS on `items`; POST /v1/reads chunks larger bodies), each a dict with
camelCase keys, as the GraphQL mutation and the bulk endpoint both send them:

    {"requestId": "r-1",              # 1-128 characters, unique per tenant (required)
     "workId": "wrk_…",               # a work of the caller's tenant (required)
     "count": 3,                      # whole reads, 1 to 10^9 (default 1)
     "occurredAt": "2026-11-03T10:00:00Z",  # datetime or ISO 8601 with an offset
                                      # (default: now); at most 5 minutes ahead
     "customerId": "cus_…"}           # the reader, a customer of the tenant (optional)

It answers a `ReadsReport`: one `ReadOutcome(index, request_id, status, error)` per
item, in the order sent. `status` is ACCEPTED (stored), DUPLICATE (the request id was
stored before with the same body: nothing changes) or REJECTED, with `error` a
BillingError carrying `code`, `message` and `field`:

    INVALID_READ        not an object, an unknown key, a malformed workId/customerId
    INVALID_REQUEST_ID  requestId missing, blank or longer than 128
    INVALID_COUNT       count not a whole number from 1 to 10^9
    INVALID_TIMESTAMP   occurredAt unreadable, without an offset, or out of range
    TIMESTAMP_IN_FUTURE occurredAt more than 5 minutes ahead
    UNKNOWN_WORK        no such work in the tenant
    UNKNOWN_CUSTOMER    no such customer in the tenant
    PERIOD_CLOSED       the royalty run of occurredAt's month has started
    REQUEST_ID_CONFLICT the request id was used for another body (a ConflictError)

One refused item never refuses the others. "The same body" is the same work,
count and customer, and the same occurredAt when one is sent (a resend that leaves
it out, so it defaulted to the time received, matches whenever it was first sent).
The batch is stored with one `INSERT … ON CONFLICT DO NOTHING`: the unique
(tenant, request id) decides between two concurrent senders of one request id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from db.models import Customer
from db.raw import fetch_rows, is_postgres
from db.royalty_models import RoyaltyRead, Work
from domain import clock
from domain.bounds import EARLIEST, LATEST
from domain.errors import BillingError, ConflictError, ValidationError
from domain.ids import PREFIXES
from domain.royalties.period_guard import open_periods
from domain.royalties.settings import RoyaltyPeriod
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation

MAX_READS_PER_CALL = 1_000
MAX_COUNT = 10**9
FUTURE_SKEW = timedelta(minutes=5)
ACCEPTED, DUPLICATE, REJECTED = "ACCEPTED", "DUPLICATE", "REJECTED"
_KEYS = frozenset({"requestId", "workId", "count", "occurredAt", "customerId"})
_COLUMNS = ("tenant_id", "work_id", "customer_id", "count", "occurred_at", "request_id")


class ReadError(ValidationError):
    """Why one read of a batch was refused (nothing of it is stored)."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field, code=code)


class RequestIdConflict(ConflictError):
    code = "REQUEST_ID_CONFLICT"


@dataclass(frozen=True, slots=True)
class ReadOutcome:
    index: int
    request_id: str | None
    status: str
    error: BillingError | None = None


@dataclass(frozen=True, slots=True)
class ReadsReport:
    outcomes: tuple[ReadOutcome, ...]

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


@dataclass(frozen=True, slots=True)
class _Read:
    index: int
    request_id: str
    work_ref: str
    count: int
    occurred_at: datetime | None  # None: when received
    customer_ref: str | None


def _ref(raw: dict[str, Any], key: str, kind: str, *, required: bool) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    prefix = PREFIXES[kind] + "_"
    if not isinstance(value, str) or not value.startswith(prefix) or len(value) > 40:
        raise ReadError("INVALID_READ", f"{key} must be a {prefix}… id", field=key)
    return value


def _occurred_at(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= 40:
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    if not isinstance(value, datetime):
        raise ReadError("INVALID_TIMESTAMP", "occurredAt must be ISO 8601", field="occurredAt")
    if value.tzinfo is None:
        raise ReadError(
            "INVALID_TIMESTAMP", "occurredAt needs a UTC offset (…Z)", field="occurredAt"
        )
    if not EARLIEST <= value < LATEST:
        raise ReadError("INVALID_TIMESTAMP", "occurredAt is out of range", field="occurredAt")
    return value


def parse_read(index: int, raw: Any) -> _Read:
    if not isinstance(raw, dict):
        raise ReadError("INVALID_READ", "a read is a JSON object")
    unknown = set(raw) - _KEYS
    if unknown:
        raise ReadError("INVALID_READ", f"unknown field {sorted(unknown)[0]!r}")
    request_id = raw.get("requestId")
    if not isinstance(request_id, str) or not request_id.strip() or len(request_id) > 128:
        raise ReadError(
            "INVALID_REQUEST_ID", "requestId must be 1-128 characters", field="requestId"
        )
    count = raw.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ReadError("INVALID_COUNT", f"count must be 1 to {MAX_COUNT}", field="count")
    return _Read(
        index,
        request_id,
        _ref(raw, "workId", "work", required=True),  # type: ignore[arg-type]
        count,
        _occurred_at(raw.get("occurredAt")),
        _ref(raw, "customerId", "customer", required=False),
    )


@dataclass(frozen=True, slots=True)
class _Row:
    read: _Read
    work_id: int
    customer_id: int | None
    occurred_at: datetime

    def same_body(self, work_id: int, customer_id: int | None, count: int, at: Any) -> bool:
        if (self.work_id, self.customer_id, self.read.count) != (work_id, customer_id, count):
            return False
        return self.read.occurred_at is None or at == self.read.occurred_at


@operation
async def record_reads(principal: Principal, items: list[dict]) -> ReadsReport:
    """Validate and store a batch of reads; each item gets its own outcome."""
    principal.require(Permission.ROYALTIES_READS)
    if len(items) > MAX_READS_PER_CALL:
        raise ValidationError(
            f"send at most {MAX_READS_PER_CALL} reads a call (POST /v1/reads takes more)",
            field="items",
            code="TOO_MANY_READS",
        )
    outcomes: dict[int, ReadOutcome] = {}
    parsed: list[_Read] = []
    for index, raw in enumerate(items):
        try:
            parsed.append(parse_read(index, raw))
        except ReadError as exc:
            request_id = raw.get("requestId") if isinstance(raw, dict) else None
            ref = request_id if isinstance(request_id, str) else None
            outcomes[index] = ReadOutcome(index, ref, REJECTED, exc)
    rows = await _resolve(principal.tenant_id, parsed, outcomes)
    fresh = _first_of_each(rows, outcomes)
    if fresh:
        await _store(principal.tenant_id, fresh, outcomes)
    return ReadsReport(tuple(outcomes[i] for i in sorted(outcomes)))


def _refuse(outcomes: dict[int, ReadOutcome], read: _Read, error: BillingError) -> None:
    outcomes[read.index] = ReadOutcome(read.index, read.request_id, REJECTED, error)


async def _resolve(
    tenant_id: int, parsed: list[_Read], outcomes: dict[int, ReadOutcome]
) -> list[_Row]:
    """Works, customers and closed periods: one query each for the whole batch."""
    if not parsed:
        return []
    works = dict(
        await Work.filter(
            tenant_id=tenant_id, public_id__in=sorted({r.work_ref for r in parsed})
        ).values_list("public_id", "id")
    )
    customer_refs = sorted({r.customer_ref for r in parsed if r.customer_ref})
    customers = {}
    if customer_refs:
        customers = dict(
            await Customer.filter(tenant_id=tenant_id, public_id__in=customer_refs).values_list(
                "public_id", "id"
            )
        )
    now = clock.now()
    periods = {str(RoyaltyPeriod.of(r.occurred_at or now)) for r in parsed}
    closed = periods - await open_periods(tenant_id, periods)
    rows = []
    for read in parsed:
        at = read.occurred_at or now
        if read.work_ref not in works:
            _refuse(
                outcomes,
                read,
                ReadError("UNKNOWN_WORK", f"no work {read.work_ref}", field="workId"),
            )
        elif read.customer_ref is not None and read.customer_ref not in customers:
            message = f"no customer {read.customer_ref}"
            _refuse(outcomes, read, ReadError("UNKNOWN_CUSTOMER", message, field="customerId"))
        elif at > now + FUTURE_SKEW:
            message = "occurredAt is more than 5 minutes ahead"
            _refuse(outcomes, read, ReadError("TIMESTAMP_IN_FUTURE", message, field="occurredAt"))
        elif str(RoyaltyPeriod.of(at)) in closed:
            message = f"the royalties of {RoyaltyPeriod.of(at)} have been (or are being) run"
            _refuse(outcomes, read, ReadError("PERIOD_CLOSED", message, field="occurredAt"))
        else:
            customer = customers.get(read.customer_ref) if read.customer_ref else None
            rows.append(_Row(read, works[read.work_ref], customer, at.astimezone(UTC)))
    return rows


def _conflict(row: _Row) -> RequestIdConflict:
    return RequestIdConflict(
        f"request id {row.read.request_id} was used for another read", field="requestId"
    )


def _first_of_each(rows: list[_Row], outcomes: dict[int, ReadOutcome]) -> list[_Row]:
    """One row per request id within the batch: a repeat is a duplicate of the first
    or, with another body, a conflict."""
    seen: dict[str, _Row] = {}
    fresh = []
    for row in rows:
        first = seen.get(row.read.request_id)
        if first is None:
            seen[row.read.request_id] = row
            fresh.append(row)
        elif row.same_body(first.work_id, first.customer_id, first.read.count, first.occurred_at):
            outcomes[row.read.index] = ReadOutcome(row.read.index, row.read.request_id, DUPLICATE)
        else:
            _refuse(outcomes, row.read, _conflict(row))
    return fresh


async def _store(tenant_id: int, fresh: list[_Row], outcomes: dict[int, ReadOutcome]) -> None:
    now = clock.now()
    # One insertion order: two concurrent batches never wait on each other in a cycle.
    fresh = sorted(fresh, key=lambda r: r.read.request_id)
    stored = await _insert(tenant_id, fresh, now)
    others = [r for r in fresh if r.read.request_id not in stored]
    before = await _stored(tenant_id, [r.read.request_id for r in others]) if others else {}
    for row in fresh:
        index, request_id = row.read.index, row.read.request_id
        if request_id in stored:
            outcomes[index] = ReadOutcome(index, request_id, ACCEPTED)
        elif request_id in before and row.same_body(*before[request_id]):
            outcomes[index] = ReadOutcome(index, request_id, DUPLICATE)
        else:
            _refuse(outcomes, row.read, _conflict(row))


async def _insert(tenant_id: int, rows: Sequence[_Row], now: datetime) -> set[str]:
    conflict = "ON CONFLICT (tenant_id, request_id) DO NOTHING RETURNING request_id"
    cols = ", ".join(_COLUMNS) + ", created_at"
    if is_postgres(RoyaltyRead._meta.db):
        # Fixed text over arrays: one prepared statement whatever the batch's size.
        sql = (
            f"INSERT INTO royalty_read ({cols}) SELECT $1, u.w, u.c, u.n, u.t, u.r, $2 "
            "FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::timestamptz[], "
            f"$7::text[]) AS u(w, c, n, t, r) {conflict}"
        )
        params: list[Any] = [
            tenant_id,
            now,
            [r.work_id for r in rows],
            [r.customer_id for r in rows],
            [r.read.count for r in rows],
            [r.occurred_at for r in rows],
            [r.read.request_id for r in rows],
        ]
    else:
        width = len(_COLUMNS) + 1
        marks = ", ".join(
            "(" + ", ".join(f"${i * width + j + 1}" for j in range(width)) + ")"
            for i in range(len(rows))
        )
        sql = f"INSERT INTO royalty_read ({cols}) VALUES {marks} {conflict}"
        params = []
        for r in rows:
            at = r.occurred_at.isoformat(" ")
            params += [tenant_id, r.work_id, r.customer_id, r.read.count, at]
            params += [r.read.request_id, now.isoformat(" ")]
    return {row["request_id"] for row in await fetch_rows(RoyaltyRead, sql, params)}


async def _stored(tenant_id: int, request_ids: list[str]) -> dict[str, tuple]:
    """The body stored for each of these request ids (work, customer, count, time)."""
    rows = await RoyaltyRead.filter(tenant_id=tenant_id, request_id__in=request_ids).values_list(
        "request_id", "work_id", "customer_id", "count", "occurred_at"
    )
    return {request_id: tuple(rest) for request_id, *rest in rows}
