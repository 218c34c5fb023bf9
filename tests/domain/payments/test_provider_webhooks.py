"""Provider webhooks through the real route: signatures (SDK-signed payloads),
each event stored once, out-of-order and concurrent deliveries, unknown types
and objects, failures that roll back, refunds and disputes."""

from __future__ import annotations

import asyncio

from db.models import CreditNote, Invoice, Payment, ProviderEvent
from domain.payments import provider_webhooks
from tests.conftest import BACKEND
from tests.domain.payments.conftest import (
    customer_with,
    intent_event,
    open_invoice,
    post_webhook,
    signed,
)


async def _pending_payment(tenant) -> Payment:
    customer = await customer_with(tenant, "pm_card_visa")
    invoice = await open_invoice(tenant, customer, 5_000)
    return await Payment.get(invoice_id=invoice.id)


async def test_bad_signatures_are_refused_and_nothing_is_stored(client, stripe_tenant) -> None:
    payment = await _pending_payment(stripe_tenant)
    event = intent_event("evt_sig", "payment_intent.succeeded", payment, "pi_sig")
    body, header = signed(event)
    now = int(header.split(",")[0][2:])
    cases = [
        (body, None),  # no signature
        (body, signed(event, secret="whsec_wrong")[1]),  # another secret
        (body.replace(b"5000", b"1"), header),  # tampered body
        signed(event, at=now - 301),  # stale
        signed(event, at=now + 301),  # from the future: the SDK alone lets it through
    ]
    for payload, sig in cases:
        response = await post_webhook(client, stripe_tenant, payload, sig)
        assert response.status_code == 400, response.text
    assert not await ProviderEvent.filter(tenant_id=stripe_tenant.id).exists()
    assert (await Payment.get(id=payment.id)).status == "pending"
    ok = await post_webhook(client, stripe_tenant, *signed(event, at=now - 299))
    assert ok.status_code == 200 and ok.json()["outcome"] == "processed"


async def test_each_event_applies_once_and_a_late_failure_undoes_nothing(
    client, stripe_tenant
) -> None:
    payment = await _pending_payment(stripe_tenant)
    success = signed(intent_event("evt_ok", "payment_intent.succeeded", payment, "pi_1"))
    first = await post_webhook(client, stripe_tenant, *success)
    replay = await post_webhook(client, stripe_tenant, *success)
    assert (first.json()["outcome"], replay.json()["outcome"]) == ("processed", "duplicate")
    late = await post_webhook(
        client,
        stripe_tenant,
        *signed(intent_event("evt_late", "payment_intent.payment_failed", payment, "pi_1")),
    )
    assert late.json()["outcome"] == "ignored"
    invoice = await Invoice.get(id=payment.invoice_id)
    assert (invoice.status, invoice.amount_paid_minor) == ("paid", 5_000)
    assert (await Payment.get(id=payment.id)).status == "succeeded"
    assert await ProviderEvent.filter(tenant_id=stripe_tenant.id).count() == 2


async def test_unknown_types_and_objects_are_stored_and_flagged(client, stripe_tenant) -> None:
    unknown_type = {"id": "evt_cust", "type": "customer.created", "data": {"object": {}}}
    response = await post_webhook(client, stripe_tenant, *signed(unknown_type))
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    orphan = {
        "id": "evt_orphan",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_nobody", "amount": 1, "currency": "eur", "metadata": {}}},
    }
    response = await post_webhook(client, stripe_tenant, *signed(orphan))
    assert response.status_code == 200 and response.json()["outcome"] == "flagged"
    stored = await ProviderEvent.get(tenant_id=stripe_tenant.id, event_id="evt_orphan")
    assert stored.outcome == "flagged" and "pi_nobody" in stored.note


async def test_a_processing_failure_answers_500_and_leaves_nothing(
    client, stripe_tenant, monkeypatch
) -> None:
    payment = await _pending_payment(stripe_tenant)
    event = signed(intent_event("evt_boom", "payment_intent.succeeded", payment, "pi_boom"))

    async def boom(*args, **kwargs):
        raise RuntimeError("database went away mid-event")

    with monkeypatch.context() as patch:
        patch.setattr(provider_webhooks, "transition", boom)
        response = await post_webhook(client, stripe_tenant, *event)
    assert response.status_code == 500
    assert not await ProviderEvent.filter(event_id="evt_boom").exists()
    retry = await post_webhook(client, stripe_tenant, *event)
    assert retry.json()["outcome"] == "processed"
    assert (await Invoice.get(id=payment.invoice_id)).status == "paid"


async def test_concurrent_deliveries_of_one_event_apply_it_once(client, stripe_tenant) -> None:
    """Racing on PostgreSQL; SQLite serialises writers, so there they come in a row."""
    payment = await _pending_payment(stripe_tenant)
    event = signed(intent_event("evt_race", "payment_intent.succeeded", payment, "pi_race"))
    if BACKEND == "postgres":
        responses = await asyncio.gather(
            *(post_webhook(client, stripe_tenant, *event) for _ in range(20))
        )
    else:
        responses = [await post_webhook(client, stripe_tenant, *event) for _ in range(20)]
    outcomes = sorted(r.json()["outcome"] for r in responses)
    assert all(r.status_code == 200 for r in responses)
    assert outcomes.count("processed") == 1 and outcomes.count("duplicate") == 19
    invoice = await Invoice.get(id=payment.invoice_id)
    assert (invoice.status, invoice.amount_paid_minor, invoice.amount_due_minor) == (
        "paid",
        5_000,
        0,
    )


async def test_refunds_and_disputes_from_the_provider(client, stripe_tenant) -> None:
    payment = await _pending_payment(stripe_tenant)
    await post_webhook(
        client,
        stripe_tenant,
        *signed(intent_event("evt_paid", "payment_intent.succeeded", payment, "pi_d")),
    )

    def charge_event(event_id: str, type_: str, **obj) -> dict:
        return {
            "id": event_id,
            "type": type_,
            "data": {"object": {"payment_intent": "pi_d", **obj}},
        }

    refunded = signed(charge_event("evt_r1", "charge.refunded", id="ch_d", amount_refunded=1_000))
    assert (await post_webhook(client, stripe_tenant, *refunded)).json()["outcome"] == "processed"
    # A later event with the same cumulative total (a replay under another id) adds nothing.
    again = signed(charge_event("evt_r2", "charge.refunded", id="ch_d", amount_refunded=1_000))
    assert (await post_webhook(client, stripe_tenant, *again)).json()["outcome"] == "ignored"
    notes = await CreditNote.filter(invoice_id=payment.invoice_id)
    assert [(n.total_minor, n.refunded_minor) for n in notes] == [(1_000, 1_000)]

    opened = signed(charge_event("evt_d1", "charge.dispute.created", id="dp_1", amount=4_000))
    await post_webhook(client, stripe_tenant, *opened)
    assert (await Invoice.get(id=payment.invoice_id)).dispute_status == "needs_response"
    lost = signed(
        charge_event("evt_d2", "charge.dispute.closed", id="dp_1", amount=4_000, status="lost")
    )
    await post_webhook(client, stripe_tenant, *lost)
    # A creation arriving after the close is stale.
    late = signed(charge_event("evt_d3", "charge.dispute.created", id="dp_1", amount=4_000))
    assert (await post_webhook(client, stripe_tenant, *late)).json()["outcome"] == "ignored"
    current = await Payment.get(id=payment.id)
    assert (current.dispute_status, current.refunded_minor) == ("lost", 5_000)
    notes = await CreditNote.filter(invoice_id=payment.invoice_id).order_by("id")
    assert [n.reason for n in notes] == ["requested_by_customer", "dispute_lost"]
    assert sum(n.total_minor for n in notes) == 5_000
