"""Racing senders: on PostgreSQL the races are real (a connection pool, row locks);
on SQLite the same code runs with writers serialised."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from db.usage_models import UsageAggregate, UsageEvent
from domain.usage.queries import current_usage
from tests.domain.usage.conftest import Metered


async def test_sixteen_senders_of_one_id_store_it_once(metered: Metered) -> None:
    gb = await metered.metric("gb", "SUM", field_name="gb")
    await metered.charge(gb, "PER_UNIT", {"unitPrice": "1.00"})
    await metered.subscribe()
    event = {"transactionId": "only-once", "metricCode": "gb", "properties": {"gb": 7}}
    reports = await asyncio.gather(*(metered.send(event) for _ in range(16)))
    statuses = sorted(r.outcomes[0].status for r in reports)
    assert statuses == ["ACCEPTED"] + ["DUPLICATE"] * 15
    assert await UsageEvent.filter(tenant_id=metered.tenant.id).count() == 1
    (aggregate,) = await UsageAggregate.filter(tenant_id=metered.tenant.id)
    assert aggregate.events == 1 and Decimal(aggregate.total) == 7


async def test_concurrent_batches_on_one_aggregate_sum_exactly(metered: Metered) -> None:
    gb = await metered.metric("gb", "SUM", field_name="gb")
    users = await metered.metric("users", "UNIQUE_COUNT", field_name="user")
    await metered.charge(gb, "PER_UNIT", {"unitPrice": "0.01"})
    await metered.charge(users, "PER_UNIT", {"unitPrice": "1"})
    await metered.subscribe()

    async def sender(n: int) -> None:
        # Overlapping ids across senders (each id sent by two of them) and in
        # reversed orders, so inserts and row locks interleave every way.
        ids = list(range(n * 25, n * 25 + 50))
        if n % 2:
            ids.reverse()
        await metered.send(
            *(
                {"transactionId": f"e{i}", "metricCode": "gb", "properties": {"gb": "0.5"}}
                for i in ids
            ),
            *(
                {"transactionId": f"u{i}", "metricCode": "users", "properties": {"user": i % 40}}
                for i in ids
            ),
        )

    await asyncio.gather(*(sender(n) for n in range(12)))
    # Ids e0 … e324: 325 distinct events of 0.5 GB; users 0-39 all seen.
    usage = await current_usage(metered.admin, metered.customer.public_id)
    by_metric = {c.charge.metric.code: c for c in usage.charges}
    assert by_metric["gb"].units == Decimal("162.5") and by_metric["gb"].events == 325
    assert by_metric["users"].units == 40
    assert await UsageEvent.filter(tenant_id=metered.tenant.id).count() == 650
