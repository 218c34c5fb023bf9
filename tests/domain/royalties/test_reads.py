"""Recording reads of works (issue 16): each item stored once per request id, one
refused item never refusing the others, replays answered as duplicates."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from db.querylog import count_statements
from db.royalty_models import RoyaltyRead, RoyaltyRun, Work
from domain import clock
from domain.errors import ConflictError, PermissionDeniedError, ValidationError
from domain.ids import new_id
from domain.royalties.reads import (
    ACCEPTED,
    DUPLICATE,
    REJECTED,
    ReadsReport,
    record_reads,
)
from domain.tenancy.access import Principal, Role
from tests.factories import admin_of, make_customer, make_tenant

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


async def make_work(tenant: Any, code: str = "dune") -> Work:
    now = clock.now()
    return await Work.create(
        public_id=new_id("work"),
        tenant_id=tenant.id,
        code=code,
        title=code.title(),
        created_at=now,
        updated_at=now,
    )


def statuses(report: ReadsReport) -> list[tuple[str, str | None]]:
    return [(o.status, o.error.code if o.error else None) for o in report.outcomes]


@pytest.fixture
async def world(db: str) -> dict[str, Any]:
    tenant = await make_tenant()
    return {
        "tenant": tenant,
        "service": Principal(tenant.id, Role.SERVICE, 0),
        "work": await make_work(tenant),
        "customer": await make_customer(tenant=tenant),
    }


async def test_reads_are_stored_with_their_defaults(world: dict[str, Any]) -> None:
    work, customer = world["work"], world["customer"]
    items = [
        {"requestId": "r1", "workId": work.public_id},
        {
            "requestId": "r2",
            "workId": work.public_id,
            "count": 7,
            "occurredAt": "2026-11-03T10:00:00+02:00",
            "customerId": customer.public_id,
        },
        {
            "requestId": "r3",
            "workId": work.public_id,
            "occurredAt": datetime(2026, 11, 4, tzinfo=UTC),
        },
    ]
    with clock.frozen_at(NOW):
        report = await record_reads(world["service"], items)
    assert statuses(report) == [(ACCEPTED, None)] * 3
    assert [o.request_id for o in report.outcomes] == ["r1", "r2", "r3"]
    rows = await RoyaltyRead.filter(tenant_id=world["tenant"].id).order_by("request_id")
    assert [(r.request_id, r.work_id, r.customer_id, r.count, r.occurred_at) for r in rows] == [
        ("r1", work.id, None, 1, NOW),
        ("r2", work.id, customer.id, 7, datetime(2026, 11, 3, 8, tzinfo=UTC)),
        ("r3", work.id, None, 1, datetime(2026, 11, 4, tzinfo=UTC)),
    ]
    assert all(r.created_at == NOW for r in rows)


async def test_each_bad_item_is_refused_alone(world: dict[str, Any]) -> None:
    work = world["work"].public_id
    stranger = await make_work(await make_tenant(), "theirs")
    other_customer = await make_customer(tenant=await make_tenant())
    await RoyaltyRun.create(
        tenant_id=world["tenant"].id, period="2026-10", status="completed", started_at=NOW
    )
    items: list[Any] = [
        "not an object",
        {"requestId": "", "workId": work},
        {"requestId": "x" * 129, "workId": work},
        {"requestId": "a", "workId": work, "count": 0},
        {"requestId": "b", "workId": work, "count": 10**9 + 1},
        {"requestId": "c", "workId": work, "count": True},
        {"requestId": "d", "workId": work, "occurredAt": "yesterday"},
        {"requestId": "e", "workId": work, "occurredAt": "2026-11-03T10:00:00"},
        {"requestId": "f", "workId": work, "occurredAt": "2026-11-15T12:06:00Z"},
        {"requestId": "g", "workId": stranger.public_id},
        {"requestId": "h", "workId": "cus_0000000000000000"},
        {"requestId": "i", "workId": work, "customerId": other_customer.public_id},
        {"requestId": "j", "workId": work, "occurredAt": "2026-10-31T23:00:00Z"},
        {"requestId": "k", "workId": work, "pages": 3},
        {"requestId": "ok", "workId": work, "count": 10**9},
    ]
    with clock.frozen_at(NOW):
        report = await record_reads(world["service"], items)
    assert statuses(report) == [
        (REJECTED, "INVALID_READ"),
        (REJECTED, "INVALID_REQUEST_ID"),
        (REJECTED, "INVALID_REQUEST_ID"),
        (REJECTED, "INVALID_COUNT"),
        (REJECTED, "INVALID_COUNT"),
        (REJECTED, "INVALID_COUNT"),
        (REJECTED, "INVALID_TIMESTAMP"),
        (REJECTED, "INVALID_TIMESTAMP"),
        (REJECTED, "TIMESTAMP_IN_FUTURE"),
        (REJECTED, "UNKNOWN_WORK"),
        (REJECTED, "INVALID_READ"),
        (REJECTED, "UNKNOWN_CUSTOMER"),
        (REJECTED, "PERIOD_CLOSED"),
        (REJECTED, "INVALID_READ"),
        (ACCEPTED, None),
    ]
    fields = [o.error.field if o.error else None for o in report.outcomes]
    assert fields[3:13] == ["count"] * 3 + ["occurredAt"] * 3 + ["workId"] * 2 + [
        "customerId",
        "occurredAt",
    ]
    assert await RoyaltyRead.filter(tenant_id=world["tenant"].id).count() == 1


async def test_replays_are_duplicates_and_reuses_conflicts(world: dict[str, Any]) -> None:
    work = world["work"].public_id
    other = (await make_work(world["tenant"], "emma")).public_id
    first = {"requestId": "r1", "workId": work, "count": 2}
    timed = {"requestId": "r2", "workId": work, "occurredAt": "2026-11-02T00:00:00Z"}
    with clock.frozen_at(NOW):
        report = await record_reads(world["service"], [first, timed, first, {**first, "count": 3}])
    assert statuses(report) == [
        (ACCEPTED, None),
        (ACCEPTED, None),
        (DUPLICATE, None),
        (REJECTED, "REQUEST_ID_CONFLICT"),
    ]
    assert isinstance(report.outcomes[3].error, ConflictError)
    # Later: the same bodies are duplicates (occurredAt left out matches whenever it
    # was first sent); another work, count or time is a conflict.
    with clock.frozen_at(NOW + timedelta(hours=1)):
        again = await record_reads(
            world["service"],
            [
                first,
                timed,
                {**first, "workId": other},
                {**timed, "occurredAt": "2026-11-02T00:00:01Z"},
                {**timed, "occurredAt": "2026-11-02T01:00:00+01:00"},  # the same instant
            ],
        )
    assert statuses(again) == [
        (DUPLICATE, None),
        (DUPLICATE, None),
        (REJECTED, "REQUEST_ID_CONFLICT"),
        (REJECTED, "REQUEST_ID_CONFLICT"),
        (DUPLICATE, None),
    ]
    assert again.count(DUPLICATE) == 3 and again.count(REJECTED) == 2
    assert await RoyaltyRead.filter(tenant_id=world["tenant"].id).count() == 2


async def test_a_batch_costs_the_same_statements_whatever_its_size(world: dict[str, Any]) -> None:
    work = world["work"].public_id
    counts = []
    for size in (1, 1000):
        items = [{"requestId": f"{size}-{n}", "workId": work} for n in range(size)]
        with count_statements() as statements:
            report = await record_reads(world["service"], items)
        assert report.count(ACCEPTED) == size
        counts.append(len([s for s in statements if "SAVEPOINT" not in s.upper()]))
    assert counts[0] == counts[1], counts
    with pytest.raises(ValidationError) as refused:
        await record_reads(world["service"], [{"requestId": "x", "workId": work}] * 1001)
    assert (refused.value.code, refused.value.field) == ("TOO_MANY_READS", "items")


async def test_who_may_record_reads(world: dict[str, Any]) -> None:
    item = {"requestId": "r", "workId": world["work"].public_id}
    assert (await record_reads(admin_of(world["tenant"]), [item])).count(ACCEPTED) == 1
    for role in (Role.CUSTOMER, Role.PAYEE):
        with pytest.raises(PermissionDeniedError):
            await record_reads(Principal(world["tenant"].id, role, 0, customer_id=1), [item])


@pytest.mark.skipif(
    os.environ.get("TALLY_TEST_DB", "sqlite") != "postgres", reason="concurrency: PostgreSQL"
)
async def test_concurrent_senders_of_one_request_id_store_it_once(world: dict[str, Any]) -> None:
    item = {"requestId": "same", "workId": world["work"].public_id, "count": 4}
    reports = await asyncio.gather(*(record_reads(world["service"], [item]) for _ in range(8)))
    assert sorted(r.outcomes[0].status for r in reports) == [ACCEPTED] + [DUPLICATE] * 7
    assert await RoyaltyRead.filter(tenant_id=world["tenant"].id).count() == 1
