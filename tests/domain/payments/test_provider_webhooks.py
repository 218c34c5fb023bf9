"""Provider webhooks through the real route: signatures (SDK-signed payloads),
each event stored once, out-of-order and concurrent deliveries, unknown types
and objects, failures that roll back, refunds and disputes."""

from __future__ import annotations

import asyncio

import pytest

from db.invoice_models import CreditNote, Invoice
from db.models import Tenant
from db.payment_models import Payment, ProviderEvent, WebhookEvent
from domain.ids import new_id
from domain.payments import charging, fast_settlement, provider_webhooks
from domain.payments.providers import signatures
from domain.payments.providers.base import SignatureError
from domain.payments.providers.registry import seal
from domain.webhooks.outbox import invoice_object
from tests.conftest import BACKEND
from tests.domain.payments.conftest import (
    WEBHOOK_SECRET,
    customer_with,
    intent_event,
    open_invoice,
    post_webhook,
    signed,
)
from tests.factories import make_plan, make_subscription


async def _pending_payment(tenant) -> Payment:
    customer = await customer_with(tenant, "pm_card_visa")
    invoice = await open_invoice(tenant, customer, 5_000)
    return await Payment.get(invoice_id=invoice.id)


async def test_bad_signatures_are_refused_and_nothing_is_stored(client, stripe_tenant) -> None:
    payment = await _pending_payment(stripe_tenant)
    event = intent_event("evt_sig", "payment_intent.succeeded", payment, "pi_sig")
    body, header = signed(event)
    now = int(header.split(",")[0][2:])
    # Margins of 30 s keep a slow run from crossing the window; the exact ±300 s
    # edges are checked against a fixed `now` in test_signature_window_edges.
    cases = [
        (body, None),  # no signature
        (body, signed(event, secret="whsec_wrong")[1]),  # another secret
        (body.replace(b"5000", b"1"), header),  # tampered body
        signed(event, at=now - 330),  # stale
        signed(event, at=now + 330),  # from the future: the SDK alone lets it through
    ]
    for payload, sig in cases:
        response = await post_webhook(client, stripe_tenant, payload, sig)
        assert response.status_code == 400, response.text
    assert not await ProviderEvent.filter(tenant_id=stripe_tenant.id).exists()
    assert (await Payment.get(id=payment.id)).status == "pending"
    ok = await post_webhook(client, stripe_tenant, *signed(event, at=now - 270))
    assert ok.status_code == 200 and ok.json()["outcome"] == "processed"


def test_signature_window_edges() -> None:
    body, _ = signed({"id": "evt_edge"})
    now = 1_800_000_000
    for offset in (-300, 0, 300):
        signatures.verify(body, signed({"id": "evt_edge"}, at=now + offset)[1], WEBHOOK_SECRET, now)
    for offset in (-301, 301):
        with pytest.raises(SignatureError):
            signatures.verify(
                body, signed({"id": "evt_edge"}, at=now + offset)[1], WEBHOOK_SECRET, now
            )


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


@pytest.mark.parametrize("path", ["general", "one statement"])
async def test_a_processing_failure_answers_500_and_leaves_nothing(
    client, stripe_tenant, monkeypatch, path
) -> None:
    payment = await _pending_payment(stripe_tenant)
    event = signed(intent_event("evt_boom", "payment_intent.succeeded", payment, "pi_boom"))

    async def boom(*args, **kwargs):
        raise RuntimeError("database went away mid-event")

    async def not_plain(*args, **kwargs):
        return False

    with monkeypatch.context() as patch:
        if path == "general":
            patch.setattr(fast_settlement, "settle_in_one_statement", not_plain)
            patch.setattr(provider_webhooks, "transition", boom)
        else:
            patch.setattr(fast_settlement, "settle_in_one_statement", boom)
        response = await post_webhook(client, stripe_tenant, *event)
    assert response.status_code == 500
    assert not await ProviderEvent.filter(tenant_id=stripe_tenant.id).exists()
    assert (await Payment.get(id=payment.id)).status == "pending"
    retry = await post_webhook(client, stripe_tenant, *event)
    assert retry.json()["outcome"] == "processed"
    assert (await Invoice.get(id=payment.invoice_id)).status == "paid"


async def _nothing_sent(**_: object) -> int:
    return 0


async def test_the_one_statement_path_writes_what_the_general_path_writes(
    client, stripe_tenant, monkeypatch
) -> None:
    """On PostgreSQL a plain `payment_intent.succeeded` is applied by one statement
    (domain/payments/fast_settlement.py); its rows must be the general path's, outbox
    payload included. SQLite always takes the general path, so there the same
    checks hold it to the same contract."""
    plan = await make_plan(tenant=stripe_tenant, prices=[("EUR", 2_500)])
    for n, path in enumerate(("one statement", "general")):
        customer = await customer_with(stripe_tenant, "pm_card_visa")
        with monkeypatch.context() as held:
            # The charge a new subscription sends after commit is held back: the
            # attempt stays pending for the webhook under test to settle.
            held.setattr(charging, "process_pending", _nothing_sent)
            sub = await make_subscription(tenant=stripe_tenant, customer=customer, plan=plan)
        invoice = await Invoice.get(subscription_id=sub.id)
        # Whole seconds print without microseconds: both forms reach the payload.
        await Invoice.filter(id=invoice.id).update(due_at=invoice.due_at.replace(microsecond=0))
        payment = await Payment.get(invoice_id=invoice.id)
        # A second attempt waiting to be sent: paying the invoice cancels it.
        spare = await Payment.create(
            **{
                **{k: getattr(payment, k) for k in Payment._meta.db_fields if k != "id"},
                "public_id": new_id("payment"),
                "idempotency_key": f"{payment.idempotency_key}:spare",
                "attempt": 2,
            }
        )
        used = []
        real = fast_settlement.settle_in_one_statement

        async def spy(*args, path=path, real=real, used=used):
            if path == "general":
                return False
            applied = await real(*args)
            used.append(applied)
            return applied

        monkeypatch.setattr(fast_settlement, "settle_in_one_statement", spy)
        response = await post_webhook(
            client,
            stripe_tenant,
            *signed(intent_event(f"evt_{n}", "payment_intent.succeeded", payment, "pi_x")),
        )
        assert response.json()["outcome"] == "processed"
        if path == "one statement":
            assert used == [BACKEND == "postgres"]
        invoice = await Invoice.get(id=invoice.id)
        payment = await Payment.get(id=payment.id)
        events = [
            e
            for e in await WebhookEvent.filter(tenant_id=stripe_tenant.id, type="invoice.paid")
            if e.payload["data"]["id"] == invoice.public_id
        ]
        assert len(events) == 1
        out = events[0]
        assert out.payload == {
            "id": out.public_id,
            "type": "invoice.paid",
            "created_at": out.created_at.isoformat(),
            "data": invoice_object(invoice, customer.public_id, sub.public_id),
        }
        assert invoice.status == "paid" and invoice.amount_due_minor == 0
        assert invoice.amount_paid_minor == invoice.total_minor == 2_500
        assert (invoice.next_dunning_at, invoice.next_payment_attempt_at) == (None, None)
        assert (payment.status, payment.provider_ref) == ("succeeded", "pi_x")
        assert payment.succeeded_at == invoice.paid_at
        assert (await Payment.get(id=spare.id)).status == "canceled"
        stored = await ProviderEvent.get(tenant_id=stripe_tenant.id, event_id=f"evt_{n}")
        assert (stored.outcome, stored.note) == ("processed", "")
        assert stored.payload["data"]["object"]["id"] == "pi_x"


async def test_a_secret_rotated_by_another_process_is_picked_up(client, stripe_tenant) -> None:
    payment = await _pending_payment(stripe_tenant)
    first = await post_webhook(
        client,
        stripe_tenant,
        *signed(intent_event("evt_r1", "payment_intent.payment_failed", payment, "pi_r")),
    )
    assert first.status_code == 200  # the tenant's credentials are now cached here
    # Another server process rolls the secret: this one's cache does not know.
    tenant = await Tenant.get(id=stripe_tenant.id)
    tenant.stripe_webhook_secret = seal(tenant.id, "stripe_webhook_secret", "whsec_rolled")
    await tenant.save()
    event = intent_event("evt_r2", "payment_intent.succeeded", payment, "pi_r")
    rolled = await post_webhook(client, stripe_tenant, *signed(event, secret="whsec_rolled"))
    assert rolled.status_code == 200 and rolled.json()["outcome"] == "processed"


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


async def test_an_event_id_seen_before_is_a_duplicate_even_if_its_payment_is_pending(
    client, stripe_tenant
) -> None:
    """The one-statement path must not apply an id it has stored (here flagged for
    a wrong amount) just because the payment is still pending."""
    payment = await _pending_payment(stripe_tenant)
    event = intent_event("evt_twice", "payment_intent.succeeded", payment, "pi_twice")
    event["data"]["object"]["amount"] += 1
    first = await post_webhook(client, stripe_tenant, *signed(event))
    assert first.json()["outcome"] == "flagged"
    event["data"]["object"]["amount"] -= 1
    again = await post_webhook(client, stripe_tenant, *signed(event))
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert (await Payment.get(id=payment.id)).status == "pending"
    assert await ProviderEvent.filter(tenant_id=stripe_tenant.id).count() == 1
