"""Usage billed in arrears: the closing period's usage on the next period's invoice,
late events as adjustments, and what cancellations, plan changes and trials do."""

from __future__ import annotations

from db.invoice_models import CreditNote, Invoice, InvoiceLine
from db.usage_models import UsagePeriod
from domain.subscriptions.changes import cancel_subscription, change_subscription
from domain.usage.charges import create_charge
from tests.domain.usage.conftest import Metered, utc
from tests.factories import make_plan


async def _lines(invoice: Invoice) -> list[tuple[str, str, int]]:
    rows = await InvoiceLine.filter(invoice_id=invoice.id).order_by("position")
    return [(r.kind, r.description, r.amount_minor) for r in rows]


async def _minutes(metered: Metered) -> None:
    minutes = await metered.metric("minutes", "SUM", field_name="minutes")
    await metered.charge(
        minutes,
        "GRADUATED",
        {
            "tiers": [
                {"upTo": "100", "unitPrice": "0.10", "flatFee": "0"},
                {"upTo": None, "unitPrice": "0.05", "flatFee": "1.00"},
            ]
        },
        invoice_display_name="Streaming minutes",
    )


async def test_a_period_s_usage_is_on_the_next_period_s_invoice(metered: Metered) -> None:
    await _minutes(metered)
    sub = await metered.subscribe()
    await metered.send(
        {"transactionId": "a", "metricCode": "minutes", "properties": {"minutes": 80}},
        {"transactionId": "b", "metricCode": "minutes", "properties": {"minutes": 70}},
    )
    await metered.advance(utc(2027, 4, 1))
    invoices = await Invoice.filter(subscription_id=sub.id).order_by("id")
    assert len(invoices) == 2
    # 150 minutes: 100 x 0.10 + (50 x 0.05 + 1.00 entering tier 2) = 10.00 + 3.50.
    assert await _lines(invoices[1]) == [
        ("usage", "Streaming minutes", 1_350),
        ("plan", "Stream", 1_000),
    ]
    line = await InvoiceLine.get(invoice_id=invoices[1].id, kind="usage")
    assert line.period_start == utc(2027, 3, 1) and line.period_end == utc(2027, 4, 1)
    assert line.details["units"] == "150" and len(line.details["tiers"]) == 2
    period = await UsagePeriod.get(subscription_id=sub.id, start=utc(2027, 3, 1))
    assert period.status == "billed" and period.invoice_id == invoices[1].id

    # A re-run of the same instant bills nothing again.
    await metered.advance(utc(2027, 4, 1, 0, 0, 1))
    assert await Invoice.filter(subscription_id=sub.id).count() == 2


async def test_late_events_are_an_adjustment_on_the_next_invoice(metered: Metered) -> None:
    await _minutes(metered)
    sub = await metered.subscribe()
    await metered.send(
        {"transactionId": "a", "metricCode": "minutes", "properties": {"minutes": 50}}
    )
    await metered.advance(utc(2027, 4, 2))
    late = await metered.send(
        {
            "transactionId": "late",
            "metricCode": "minutes",
            "timestamp": utc(2027, 3, 31, 23).isoformat(),
            "properties": {"minutes": 10},
        }
    )
    assert late.outcomes[0].status == "ACCEPTED"
    assert (await UsagePeriod.get(subscription_id=sub.id, start=utc(2027, 3, 1))).changed
    # Past the grace window (3 days after the period closed) it is refused.
    too_late_at = utc(2027, 4, 4, 0, 0, 1)
    await metered.advance(too_late_at)
    refused = await metered.send(
        {
            "transactionId": "later",
            "metricCode": "minutes",
            "timestamp": utc(2027, 3, 31, 23).isoformat(),
            "properties": {"minutes": 10},
        }
    )
    assert refused.outcomes[0].error.code == "TOO_LATE"
    await metered.advance(utc(2027, 5, 1))
    invoices = await Invoice.filter(subscription_id=sub.id).order_by("id")
    # March was 50 minutes (5.00); the late 10 add 1.00, on May's invoice, once.
    assert ("usage", "Streaming minutes", 500) in await _lines(invoices[1])
    may = await _lines(invoices[2])
    assert ("usage_adjustment", "Streaming minutes", 100) in may
    period = await UsagePeriod.get(subscription_id=sub.id, start=utc(2027, 3, 1))
    assert not period.changed and period.billed[next(iter(period.billed))] == 600


async def test_a_late_event_that_lowers_a_billed_period_is_a_credit_note(metered: Metered) -> None:
    seconds = await metered.metric("gb", "SUM", field_name="gb")
    # Volume pricing: more units can cost less (all units at the tier reached).
    await metered.charge(
        seconds,
        "VOLUME",
        {"tiers": [{"upTo": "10", "unitPrice": "1.00"}, {"upTo": None, "unitPrice": "0.50"}]},
    )
    sub = await metered.subscribe()
    await metered.send({"transactionId": "a", "metricCode": "gb", "properties": {"gb": 10}})
    await metered.advance(utc(2027, 4, 1))
    await metered.send(
        {
            "transactionId": "b",
            "metricCode": "gb",
            "timestamp": utc(2027, 3, 20).isoformat(),
            "properties": {"gb": 2},
        }
    )
    await metered.advance(utc(2027, 5, 1))
    april = (await Invoice.filter(subscription_id=sub.id).order_by("id"))[1]
    # 10 GB at 1.00 = 10.00 billed; 12 GB at 0.50 = 6.00: 4.00 (before tax) credited.
    notes = await CreditNote.filter(invoice_id=april.id)
    assert [n.subtotal_minor + n.tax_minor for n in notes] == [400]


async def test_cancel_now_bills_the_usage_so_far_on_the_final_invoice(metered: Metered) -> None:
    await _minutes(metered)
    sub = await metered.subscribe()
    await metered.send(
        {"transactionId": "a", "metricCode": "minutes", "properties": {"minutes": 20}}
    )
    await metered.advance(utc(2027, 3, 10))
    await cancel_subscription(metered.admin, sub.public_id, at_period_end=False, prorate=False)
    final = await Invoice.get(subscription_id=sub.id, billing_reason="subscription_final")
    assert await _lines(final) == [("usage", "Streaming minutes", 200)]
    refused = await metered.send(
        {"transactionId": "after", "metricCode": "minutes", "properties": {"minutes": 1}}
    )
    assert refused.outcomes[0].error.code == "NO_SUBSCRIPTION"


async def test_a_plan_change_keeps_old_usage_on_old_prices(metered: Metered) -> None:
    await _minutes(metered)
    pro = await make_plan(tenant=metered.tenant, prices=[("EUR", 3_000)], name="Pro")
    minutes = await metered.metric("pro-minutes", "SUM", field_name="minutes")
    await create_charge(
        metered.admin,
        {
            "plan_id": pro.public_id,
            "metric_id": minutes.code,
            "model": "PER_UNIT",
            "prices": [{"currency": "EUR", "properties": {"unitPrice": "0.01"}}],
            "invoice_display_name": "Pro minutes",
        },
    )
    sub = await metered.subscribe()
    await metered.send(
        {"transactionId": "a", "metricCode": "minutes", "properties": {"minutes": 30}}
    )
    await metered.advance(utc(2027, 3, 15))
    await change_subscription(
        metered.admin, sub.public_id, {"plan_id": pro.public_id, "proration_behavior": "none"}
    )
    after = await metered.send(
        {"transactionId": "b", "metricCode": "minutes", "properties": {"minutes": 30}},
        {"transactionId": "c", "metricCode": "pro-minutes", "properties": {"minutes": 100}},
    )
    # The new plan does not charge the old metric: refused, never silently dropped.
    assert [o.status for o in after.outcomes] == ["REJECTED", "ACCEPTED"]
    await metered.advance(utc(2027, 4, 1))
    april = (await Invoice.filter(subscription_id=sub.id).order_by("id"))[-1]
    lines = await _lines(april)
    assert ("usage", "Pro minutes", 100) in lines
    assert ("usage", "Streaming minutes", 300) in lines


async def test_usage_during_a_trial_is_not_billed(metered: Metered) -> None:
    await _minutes(metered)
    sub = await metered.subscribe(trial_days=14)
    report = await metered.send(
        {"transactionId": "a", "metricCode": "minutes", "properties": {"minutes": 99}}
    )
    assert report.outcomes[0].status == "ACCEPTED"
    await metered.advance(utc(2027, 3, 16))
    first = (await Invoice.filter(subscription_id=sub.id).order_by("id"))[-1]
    assert [k for k, _, _ in await _lines(first)] == ["plan"]
    period = await UsagePeriod.get(subscription_id=sub.id, start=utc(2027, 3, 1))
    assert period.status == "free"


async def test_the_grace_window_is_the_tenant_s(metered: Metered) -> None:
    from domain.tenancy.tenants import update_tenant

    await update_tenant(metered.admin, {"usage_grace_days": 0})
    await _minutes(metered)
    await metered.subscribe()
    await metered.advance(utc(2027, 4, 1, 0, 0, 1))
    late = await metered.send(
        {
            "transactionId": "late",
            "metricCode": "minutes",
            "timestamp": utc(2027, 3, 31, 23).isoformat(),
            "properties": {"minutes": 1},
        }
    )
    assert late.outcomes[0].error.code == "TOO_LATE"


async def test_a_minimum_commitment_is_trued_up(metered: Metered) -> None:
    from domain.usage.charges import set_plan_usage_terms

    await _minutes(metered)
    await set_plan_usage_terms(
        metered.admin, metered.plan.public_id, {"minimumCommitment": {"EUR": "20.00"}}
    )
    sub = await metered.subscribe()
    await metered.send(
        {"transactionId": "a", "metricCode": "minutes", "properties": {"minutes": 50}}
    )
    await metered.advance(utc(2027, 4, 1))
    await metered.send(
        {"transactionId": "b", "metricCode": "minutes", "properties": {"minutes": 300}}
    )
    await metered.advance(utc(2027, 5, 1))
    april, may = (await Invoice.filter(subscription_id=sub.id).order_by("id"))[1:]
    # March: 50 minutes = 5.00, below the 20.00 committed: a 15.00 true-up.
    assert await _lines(april) == [
        ("usage", "Streaming minutes", 500),
        ("usage_minimum", "", 1_500),
        ("plan", "Stream", 1_000),
    ]
    # April: 100 x 0.10 + 200 x 0.05 + 1.00 = 21.00, above it: no true-up line.
    assert [k for k, _, _ in await _lines(may)] == ["usage", "plan"]
