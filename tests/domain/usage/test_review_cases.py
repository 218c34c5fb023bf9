"""Cases an outside review found: each failed before its mend."""

from __future__ import annotations

import asyncio

from db.invoice_models import Invoice, InvoiceLine
from domain.usage.charges import archive_charge, set_plan_usage_terms
from tests.domain.usage.conftest import Metered, utc


async def _kinds(invoice: Invoice) -> list[tuple[str, int]]:
    rows = await InvoiceLine.filter(invoice_id=invoice.id).order_by("position")
    return [(r.kind, r.amount_minor) for r in rows]


async def test_hostile_numbers_and_timestamps_refuse_only_their_event(metered: Metered) -> None:
    gb = await metered.metric("gb", "SUM", field_name="gb")
    await metered.charge(gb, "PER_UNIT", {"unitPrice": "1"})
    await metered.subscribe()
    report = await metered.send(
        {"transactionId": "tiny", "metricCode": "gb", "properties": {"gb": 1e-300}},
        {"transactionId": "exp", "metricCode": "gb", "properties": {"gb": "1e-999999999"}},
        {"transactionId": "long", "metricCode": "gb", "properties": {"gb": "1." + "1" * 70}},
        {
            "transactionId": "y1",
            "metricCode": "gb",
            "timestamp": "0001-01-01T00:00:00+01:00",
            "properties": {"gb": 1},
        },
        {"transactionId": "ok", "metricCode": "gb", "properties": {"gb": "0.000000000000000001"}},
    )
    codes = [o.error.code if o.error else o.status for o in report.outcomes]
    assert codes == [
        "NOT_A_NUMBER",
        "NOT_A_NUMBER",
        "NOT_A_NUMBER",
        "INVALID_TIMESTAMP",
        "ACCEPTED",
    ]


async def test_concurrent_late_batches_for_one_billed_period_do_not_deadlock(
    metered: Metered,
) -> None:
    gb = await metered.metric("gb", "SUM", field_name="gb")
    await metered.charge(gb, "PER_UNIT", {"unitPrice": "1"})
    sub = await metered.subscribe()
    await metered.advance(utc(2027, 4, 1, 12))
    late = utc(2027, 3, 20).isoformat()

    async def batch(n: int) -> list[str]:
        report = await metered.send(
            *(
                {
                    "transactionId": f"l{n}-{i}",
                    "metricCode": "gb",
                    "timestamp": late,
                    "properties": {"gb": 1},
                }
                for i in range(25)
            )
        )
        return [o.status for o in report.outcomes]

    results = await asyncio.gather(*(batch(n) for n in range(6)))
    assert all(status == "ACCEPTED" for statuses in results for status in statuses)
    await metered.advance(utc(2027, 5, 1))
    may = (await Invoice.filter(subscription_id=sub.id).order_by("id"))[-1]
    assert ("usage_adjustment", 15_000) in await _kinds(may)  # 150 GB late, once


async def test_a_time_weighted_level_survives_a_repriced_charge(metered: Metered) -> None:
    stored = await metered.metric("stored", "TIME_WEIGHTED_SUM", field_name="gb", time_unit="day")
    old = await metered.charge(stored, "PER_UNIT", {"unitPrice": "1"}, invoice_display_name="Old")
    sub = await metered.subscribe()
    await metered.send(
        {
            "transactionId": "up",
            "metricCode": "stored",
            "timestamp": utc(2027, 3, 1).isoformat(),
            "properties": {"gb": 10},
        }
    )
    await metered.advance(utc(2027, 4, 1))
    await archive_charge(metered.admin, old.public_id)
    await metered.charge(stored, "PER_UNIT", {"unitPrice": "2"}, invoice_display_name="New")
    await metered.advance(utc(2027, 5, 1))
    april, may = (await Invoice.filter(subscription_id=sub.id).order_by("id"))[1:]
    # March: 10 GB x 31 days x 1 = 310.00. April: still 10 GB, x 30 days x 2 = 600.00.
    assert ("usage", 31_000) in await _kinds(april)
    assert ("usage", 60_000) in await _kinds(may)


async def test_late_events_keep_the_terms_their_period_closed_on(metered: Metered) -> None:
    gb = await metered.metric("gb", "SUM", field_name="gb")
    await metered.charge(gb, "PER_UNIT", {"unitPrice": "1"})
    sub = await metered.subscribe()
    await metered.send({"transactionId": "a", "metricCode": "gb", "properties": {"gb": 5}})
    await metered.advance(utc(2027, 4, 1))
    await set_plan_usage_terms(
        metered.admin, metered.plan.public_id, {"minimumCommitment": {"EUR": "100"}}
    )
    await metered.send(
        {
            "transactionId": "b",
            "metricCode": "gb",
            "timestamp": utc(2027, 3, 30).isoformat(),
            "properties": {"gb": 1},
        }
    )
    await metered.advance(utc(2027, 5, 1))
    may = (await Invoice.filter(subscription_id=sub.id).order_by("id"))[-1]
    kinds = await _kinds(may)
    # The late 1.00 for March, and no March true-up; April's own 100.00 commitment
    # (no April usage) is trued up in full.
    assert ("usage_adjustment", 100) in kinds
    assert [a for k, a in kinds if k == "usage_minimum"] == [10_000]
