"""Ingestion: each event stored once, refused with a code, aggregated on arrival."""

from __future__ import annotations

from decimal import Decimal

from db.usage_models import UsageEvent
from domain.usage.queries import current_usage
from tests.domain.usage.conftest import Metered, utc


async def test_events_are_aggregated_and_priced_as_they_land(metered: Metered) -> None:
    tokens = await metered.metric("tokens", "SUM", field_name="tokens", dimensions=["direction"])
    await metered.charge(
        tokens,
        "PER_UNIT",
        {"unitPrice": "0.0001"},
        filters=[{"key": "direction", "values": ["input"]}],
        invoice_display_name="Input tokens",
    )
    await metered.charge(
        tokens,
        "PER_UNIT",
        {"unitPrice": "0.0003"},
        filters=[{"key": "direction", "values": ["output"]}],
        invoice_display_name="Output tokens",
    )
    await metered.subscribe()
    report = await metered.send(
        {
            "transactionId": "t1",
            "metricCode": "tokens",
            "properties": {"tokens": 12_345, "direction": "input"},
        },
        {
            "transactionId": "t2",
            "metricCode": "tokens",
            "properties": {"tokens": "1000", "direction": "output"},
        },
        {
            "transactionId": "t3",
            "metricCode": "tokens",
            "properties": {"tokens": 5, "direction": "input"},
        },
    )
    assert [o.status for o in report.outcomes] == ["ACCEPTED"] * 3
    usage = await current_usage(metered.admin, metered.customer.public_id)
    by_name = {c.charge.display_name: c for c in usage.charges}
    # 12,350 input tokens x 0.0001 = 1.235 EUR → 124 (half up); 1,000 x 0.0003 = 0.30 EUR.
    assert by_name["Input tokens"].units == Decimal(12_350)
    assert by_name["Input tokens"].amount_minor == 124
    assert by_name["Output tokens"].amount_minor == 30
    assert usage.amount_minor == 154


async def test_a_resent_event_is_a_duplicate_and_another_body_a_conflict(metered: Metered) -> None:
    calls = await metered.metric("calls", "COUNT")
    await metered.charge(calls, "PER_UNIT", {"unitPrice": "0.50"})
    await metered.subscribe()
    event = {"transactionId": "same", "metricCode": "calls", "properties": {"route": "/a"}}
    first = await metered.send(event)
    again = await metered.send(event, {**event, "properties": {"route": "/b"}}, event)
    assert first.outcomes[0].status == "ACCEPTED"
    assert [o.status for o in again.outcomes] == ["DUPLICATE", "REJECTED", "DUPLICATE"]
    assert again.outcomes[1].error.code == "TRANSACTION_ID_CONFLICT"
    assert await UsageEvent.filter(tenant_id=metered.tenant.id).count() == 1
    usage = await current_usage(metered.admin, metered.customer.public_id)
    assert usage.charges[0].events == 1 and usage.amount_minor == 50


async def test_bad_events_are_refused_with_their_index_and_the_rest_kept(metered: Metered) -> None:
    seconds = await metered.metric("seconds", "SUM", field_name="seconds")
    await metered.charge(seconds, "PER_UNIT", {"unitPrice": "0.01"})
    await metered.subscribe()
    now = metered.clock.frozen_time
    report = await metered.send(
        {"transactionId": "ok", "metricCode": "seconds", "properties": {"seconds": 60}},
        {"transactionId": "m", "metricCode": "nope", "properties": {"seconds": 1}},
        {"transactionId": "n", "metricCode": "seconds", "properties": {"seconds": "ten"}},
        {"transactionId": "p", "metricCode": "seconds", "properties": {}},
        {
            "transactionId": "f",
            "metricCode": "seconds",
            "timestamp": (now.replace(minute=6)).isoformat(),
            "properties": {"seconds": 1},
        },
        {
            "transactionId": "b",
            "metricCode": "seconds",
            "timestamp": utc(2027, 2, 1).isoformat(),
            "properties": {"seconds": 1},
        },
        {"metricCode": "seconds", "properties": {"seconds": 1}},
    )
    codes = [(o.index, o.status, o.error.code if o.error else None) for o in report.outcomes]
    assert codes == [
        (0, "ACCEPTED", None),
        (1, "REJECTED", "UNKNOWN_METRIC"),
        (2, "REJECTED", "NOT_A_NUMBER"),
        (3, "REJECTED", "MISSING_PROPERTY"),
        (4, "REJECTED", "TIMESTAMP_IN_FUTURE"),
        (5, "REJECTED", "BEFORE_SUBSCRIPTION"),
        (6, "REJECTED", "INVALID_TRANSACTION_ID"),
    ]
    assert await UsageEvent.filter(tenant_id=metered.tenant.id).count() == 1


async def test_every_aggregation_folds_the_same_in_any_order_and_batching(
    metered: Metered,
) -> None:
    """On PostgreSQL the fold is SQL (INSERT … ON CONFLICT DO UPDATE), on SQLite
    Python: both must give what the events say, however they are split and ordered."""
    import random

    codes = {
        "n": ("COUNT", None),
        "s": ("SUM", "v"),
        "m": ("MAX", "v"),
        "l": ("LATEST", "v"),
        "u": ("UNIQUE_COUNT", "who"),
    }
    for code, (aggregation, field) in codes.items():
        metric = await metered.metric(code, aggregation, field_name=field)
        await metered.charge(metric, "PER_UNIT", {"unitPrice": "1"})
    await metered.subscribe()
    await metered.advance(utc(2027, 3, 20))
    values = ["3", "-1.5", "7.25", "0", "7.25", "2"]
    events = []
    for code in codes:
        for i, value in enumerate(values):
            at = utc(2027, 3, 2 + i).isoformat()
            props = {"v": value, "who": f"user-{i % 4}"}
            events.append(
                {
                    "transactionId": f"{code}{i}",
                    "metricCode": code,
                    "timestamp": at,
                    "properties": props,
                }
            )
    random.Random(7).shuffle(events)
    for start in range(0, len(events), 7):
        await metered.send(*events[start : start + 7])
    usage = await current_usage(metered.admin, metered.customer.public_id)
    units = {c.charge.metric.code: c.units for c in usage.charges}
    # COUNT 6; SUM 18 (3 - 1.5 + 7.25 + 0 + 7.25 + 2); MAX 7.25; LATEST the last by
    # time (2, on the 7th); UNIQUE_COUNT user-0 … user-3.
    assert units == {
        "n": Decimal(6),
        "s": Decimal(18),
        "m": Decimal("7.25"),
        "l": Decimal(2),
        "u": Decimal(4),
    }
