"""A month of a streaming and AI customer on a test clock, invoiced in arrears and
checked against totals worked out by hand (docs/USAGE.md has the same recipe)."""

from __future__ import annotations

from db.invoice_models import Invoice, InvoiceLine
from domain.usage.charges import set_plan_usage_terms
from domain.usage.incidents import record_incident
from tests.domain.usage.conftest import Metered, utc


async def _catalog(m: Metered) -> None:
    seconds = await m.metric(
        "session_seconds",
        "SUM",
        field_name="seconds",
        # Each session is billed per started minute: converted per event, rounded up.
        conversion={"divisor": "60", "rounding": "ceil", "decimals": 0, "perEvent": True},
    )
    bandwidth = await m.metric(
        "bandwidth",
        "SUM",
        field_name="bytes",
        conversion={"divisor": "1000000000", "rounding": "round", "decimals": 3},
    )
    tokens = await m.metric("tokens", "SUM", field_name="tokens", dimensions=["direction"])
    streams = await m.metric(
        "concurrent_streams", "TIME_WEIGHTED_SUM", field_name="change", time_unit="hour"
    )
    cost = await m.metric("infra_cost", "SUM", field_name="cost")
    await m.charge(seconds, "PER_UNIT", {"unitPrice": "0.02"}, invoice_display_name="Minutes")
    await m.charge(bandwidth, "PER_UNIT", {"unitPrice": "0.05"}, invoice_display_name="Bandwidth")
    await m.charge(
        tokens,
        "PER_UNIT",
        {"unitPrice": "0.000002"},
        filters=[{"key": "direction", "values": ["input"]}],
        invoice_display_name="Input tokens",
    )
    await m.charge(
        tokens,
        "PER_UNIT",
        {"unitPrice": "0.000006"},
        filters=[{"key": "direction", "values": ["output"]}],
        invoice_display_name="Output tokens",
    )
    await m.charge(streams, "PER_UNIT", {"unitPrice": "0.10"}, invoice_display_name="Streams")
    # Cost pass-through with a 15 % markup: a percentage charge at 115 %.
    await m.charge(cost, "PERCENTAGE", {"rate": "115"}, invoice_display_name="Infrastructure")
    await set_plan_usage_terms(
        m.admin,
        m.plan.public_id,
        {
            "volumeDiscounts": [
                {"above": {"EUR": "1000"}, "percent": "5"},
                {"above": {"EUR": "5000"}, "percent": "10"},
            ],
            "slaCredits": [
                {"below": "99.9", "creditPercent": "10"},
                {"below": "99", "creditPercent": "25"},
                {"below": "95", "creditPercent": "50"},
            ],
        },
    )


def _at(day: int, hour: int = 0) -> str:
    return utc(2027, 3, day, hour).isoformat()


async def test_a_streaming_customer_s_month(metered: Metered) -> None:
    m = metered
    await _catalog(m)
    sub = await m.subscribe()
    await m.advance(utc(2027, 3, 31, 23))
    await record_incident(
        m.admin,
        {"title": "Edge outage", "started_at": utc(2027, 3, 15), "ended_at": utc(2027, 3, 15, 8)},
    )

    def ev(tx: str, code: str, at: str, **props: object) -> dict:
        return {"transactionId": tx, "metricCode": code, "timestamp": at, "properties": props}

    report = await m.send(
        ev("s1", "session_seconds", _at(2), seconds=3_601),  # 61 started minutes
        ev("s2", "session_seconds", _at(3), seconds=59),  # 1
        ev("s3", "session_seconds", _at(4), seconds=7_200),  # 120
        ev("b1", "bandwidth", _at(5), bytes=1_234_567_890_123),
        ev("b2", "bandwidth", _at(6), bytes=765_432_510_000),  # 2,000.000400123 GB in all
        ev("t1", "tokens", _at(7), tokens=150_000_000, direction="input"),
        ev("t2", "tokens", _at(8), tokens=50_000_000, direction="output"),
        ev("c1", "concurrent_streams", _at(1), change=2),
        ev("c2", "concurrent_streams", _at(11), change=1),
        ev("c3", "concurrent_streams", _at(21), change=-3),
        ev("i1", "infra_cost", _at(9), cost="200.00"),
        ev("i2", "infra_cost", _at(10), cost="100.00"),
    )
    assert [o.status for o in report.outcomes] == ["ACCEPTED"] * 12
    await m.advance(utc(2027, 4, 1))
    invoice = (await Invoice.filter(subscription_id=sub.id).order_by("id"))[-1]
    lines = {
        r.description or r.kind: r.amount_minor
        for r in await InvoiceLine.filter(invoice_id=invoice.id)
    }
    # Minutes: 61 + 1 + 120 = 182 x 0.02 = 3.64.
    # Bandwidth: 2,000.000400123 GB, rounded to 3 decimals = 2,000.000 x 0.05 = 100.00.
    # Tokens: 150 M x 0.000002 = 300.00 in; 50 M x 0.000006 = 300.00 out.
    # Streams: 2 for 240 h (1st-11th) + 3 for 240 h (11th-21st) = 1,200 h x 0.10 = 120.00.
    # Infrastructure: (200.00 + 100.00) x 115 % = 345.00.
    # Usage: 3.64 + 100 + 300 + 300 + 120 + 345 = 1,168.64, above 1,000: 5 % off = 58.432
    # → 58.43. Uptime: 8 h down of 744 h = 98.924 % (floored), below 99: 25 % of the
    # usage charges = 292.16 credited. Plus April's fee in advance, 10.00.
    assert lines == {
        "Minutes": 364,
        "Bandwidth": 10_000,
        "Input tokens": 30_000,
        "Output tokens": 30_000,
        "Streams": 12_000,
        "Infrastructure": 34_500,
        "5 %": -5_843,
        "98.924 %": -29_216,
        "Stream": 1_000,
    }
    assert invoice.subtotal_minor == 116_864 - 5_843 - 29_216 + 1_000 == 82_805
    streams = await InvoiceLine.get(invoice_id=invoice.id, description="Streams")
    assert streams.details["units"] == "1200"
