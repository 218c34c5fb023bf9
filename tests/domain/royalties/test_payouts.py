"""Approving and paying royalty statements (issue 16): a draft is approved, then paid
once, by hand or by a Stripe Connect transfer (the real SDK against the in-process fake
Stripe), with the ledger's payout entry written on the locked payee and the outbound
webhooks in the outbox.

The statement of test_documents.py: 477.00 EUR payable. Before the payout the payee's
balance is 477.00 (an earning entry stands for the run's postings); after it, 0.00, and
every figure still equals the sum of its ledger entries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from db.models import Tenant
from db.payment_models import WebhookEvent
from db.royalty_models import Payee, RoyaltyLedgerEntry, RoyaltyPayout, RoyaltyStatement
from domain import clock
from domain.errors import NotFoundError, PermissionDeniedError, ValidationError
from domain.payments.providers import stripe_provider
from domain.payments.settings import update_payment_settings
from domain.royalties import payouts
from domain.royalties.ledger import Posting, post, verify_ledger
from domain.royalties.payouts import (
    AlreadyPaid,
    PayoutInProgress,
    PayoutMethodError,
    StatementNotApprovable,
    StatementNotPayable,
    approve_statement,
    pay_with_stripe_connect,
    record_payout,
)
from domain.tenancy.access import Principal, Role
from domain.unit_of_work import operation
from tests.domain.royalties.test_documents import make_payee, make_statement
from tests.factories import admin_of, make_tenant
from tests.fake_stripe import FakeStripe

PAYABLE = 47_700
AT = datetime(2026, 12, 3, 22, 30, tzinfo=UTC)  # already 4 December in Auckland


@pytest.fixture(scope="module")
def fake_stripe() -> Iterator[FakeStripe]:
    """Its own fake server; the client the payments tests configured (if any) comes
    back afterwards."""
    server = FakeStripe().start()
    before = stripe_provider._client
    stripe_provider.configure_client(stripe_provider.build_client(server.url))
    yield server
    stripe_provider.configure_client(before)
    server.stop()


@pytest.fixture
def fixed_clock() -> Iterator[clock.FixedClock]:
    with clock.frozen_at(AT) as fixed:
        yield fixed


@operation
async def _earned(payee: Payee, statement: RoyaltyStatement) -> None:
    """What the run would have posted: the period's balance, owed to the payee."""
    locked = await Payee.select_for_update().get(id=payee.id)
    await post(
        locked,
        [Posting("earning", amount_minor=statement.payable_minor)],
        at=clock.now(),
        statement_id=statement.id,
        period=statement.period,
    )


async def world(*, status: str = "draft", **payee_fields: Any) -> dict[str, Any]:
    tenant = await make_tenant()
    tenant.timezone = "Pacific/Auckland"
    await tenant.save(update_fields=["timezone"])
    payee = await make_payee(tenant, **payee_fields)
    statement = await make_statement(tenant, payee, status=status)
    await _earned(payee, statement)
    return {"tenant": tenant, "admin": admin_of(tenant), "payee": payee, "statement": statement}


async def events(tenant: Tenant, type_: str) -> list[dict[str, Any]]:
    rows = await WebhookEvent.filter(tenant_id=tenant.id, type=type_).order_by("id")
    return [row.payload["data"] for row in rows]


async def payout_entries(statement: RoyaltyStatement) -> list[RoyaltyLedgerEntry]:
    return await RoyaltyLedgerEntry.filter(statement_id=statement.id, kind="payout")


async def test_approve_then_record_a_payout(db: str, fixed_clock: clock.FixedClock) -> None:
    w = await world()
    tenant, admin, statement = w["tenant"], w["admin"], w["statement"]
    with pytest.raises(StatementNotPayable):  # a draft is approved first
        await record_payout(admin, statement.public_id, reference="SEPA-1")

    approved = await approve_statement(admin, statement.public_id)
    assert (approved.status, approved.approved_at) == ("approved", AT)
    (event,) = await events(tenant, "royalty_statement.approved")
    assert event["id"] == statement.public_id and event["payee"] == w["payee"].public_id
    assert (event["status"], event["payable_minor"]) == ("approved", PAYABLE)
    with pytest.raises(StatementNotApprovable) as refused:
        await approve_statement(admin, statement.public_id)
    assert refused.value.code == "STATEMENT_NOT_APPROVABLE"

    payout = await record_payout(admin, statement.public_id, reference="SEPA-2026-12-0042")
    assert (payout.method, payout.status, payout.amount_minor) == ("manual", "paid", PAYABLE)
    assert payout.paid_on == date(2026, 12, 4)  # the tenant's day (Auckland), not UTC's
    assert payout.reference == "SEPA-2026-12-0042" and payout.public_id.startswith("rpo_")
    statement = await RoyaltyStatement.get(id=statement.id)
    assert (statement.status, statement.paid_at) == ("paid", AT)
    (entry,) = await payout_entries(statement)
    assert (entry.amount_minor, entry.balance_after_minor) == (-PAYABLE, 0)
    assert (entry.currency, entry.period) == ("EUR", "2026-11")
    assert (await Payee.get(id=w["payee"].id)).balance_minor == 0
    assert await verify_ledger(tenant.id) == (1, [])
    (paid,) = await events(tenant, "payout.paid")
    assert paid["id"] == payout.public_id and paid["statement"] == statement.public_id
    assert (paid["method"], paid["amount_minor"], paid["currency"]) == ("manual", PAYABLE, "EUR")
    assert paid["paid_on"] == "2026-12-04"


async def test_a_second_payout_is_refused_and_changes_nothing(
    db: str, fixed_clock: clock.FixedClock
) -> None:
    w = await world(status="approved")
    admin, statement = w["admin"], w["statement"]
    first = await record_payout(
        admin, statement.public_id, reference="CHQ-1", paid_on=date(2026, 12, 1)
    )
    assert first.paid_on == date(2026, 12, 1)
    for attempt in (
        record_payout(admin, statement.public_id, reference="CHQ-2"),
        pay_with_stripe_connect(admin, statement.public_id),
    ):
        with pytest.raises(AlreadyPaid) as refused:
            await attempt
        assert refused.value.code == "ALREADY_PAID"
    assert await RoyaltyPayout.filter(statement_id=statement.id).count() == 1
    assert len(await payout_entries(statement)) == 1
    assert (await Payee.get(id=w["payee"].id)).balance_minor == 0
    assert len(await events(w["tenant"], "payout.paid")) == 1
    with pytest.raises(StatementNotApprovable):  # paid is final
        await approve_statement(admin, statement.public_id)


async def test_carried_statements_are_neither_approved_nor_paid(db: str) -> None:
    w = await world(status="carried")
    with pytest.raises(StatementNotApprovable):
        await approve_statement(w["admin"], w["statement"].public_id)
    with pytest.raises(StatementNotPayable):
        await record_payout(w["admin"], w["statement"].public_id, reference="X")
    assert await events(w["tenant"], "royalty_statement.approved") == []


async def test_who_may_approve_and_pay(db: str) -> None:
    w = await world()
    tenant, statement = w["tenant"], w["statement"]
    payee = Principal(tenant_id=tenant.id, role=Role.PAYEE, key_id=0, payee_id=w["payee"].id)
    for principal in (payee, Principal(tenant_id=tenant.id, role=Role.SERVICE, key_id=0)):
        with pytest.raises(PermissionDeniedError):
            await approve_statement(principal, statement.public_id)
        with pytest.raises(PermissionDeniedError):
            await record_payout(principal, statement.public_id, reference="X")
        with pytest.raises(PermissionDeniedError):
            await pay_with_stripe_connect(principal, statement.public_id)
    stranger = admin_of(await make_tenant())
    with pytest.raises(NotFoundError):  # another tenant's statement does not exist for it
        await approve_statement(stranger, statement.public_id)
    with pytest.raises(NotFoundError):
        await record_payout(stranger, statement.public_id, reference="X")
    with pytest.raises(ValidationError):
        await approve_statement(w["admin"], "pye_0123456789abcdef")
    await approve_statement(w["admin"], statement.public_id)
    with pytest.raises(ValidationError):  # a payout without its reference
        await record_payout(w["admin"], statement.public_id, reference="  ")
    assert (await RoyaltyStatement.get(id=statement.id)).status == "approved"
    assert await events(tenant, "royalty_statement.approved") != []


# -- Stripe Connect -------------------------------------------------------------------


async def stripe_world(fake: FakeStripe, **payee_fields: Any) -> dict[str, Any]:
    payee_fields.setdefault("payout_method", "stripe_connect")
    payee_fields.setdefault("payout_account", "acct_1AdaLovelace")
    w = await world(**payee_fields)
    await update_payment_settings(
        w["admin"], {"provider": "stripe", "stripe_secret_key": "sk_test_royalties"}
    )
    await approve_statement(w["admin"], w["statement"].public_id)
    w["key"] = f"royalty-statement-{w['statement'].public_id}"
    return w


async def test_a_stripe_connect_transfer_retried_after_an_outage(
    db: str, fake_stripe: FakeStripe, fixed_clock: clock.FixedClock
) -> None:
    w = await stripe_world(fake_stripe)
    statement = w["statement"]
    fake_stripe.fail_next = 3  # the first request and the SDK's two retries
    # A 500 (or a lost connection) may hide a transfer Stripe made: the payout stays
    # pending, paying by hand is refused, only a retry of the same transfer settles it.
    failed = await pay_with_stripe_connect(w["admin"], statement.public_id)
    assert (failed.status, failed.method) == ("pending", "stripe_connect")
    assert (
        failed.failure
        and failed.failure.startswith("outcome unknown")
        and "outage" in failed.failure
    )
    with pytest.raises(PayoutInProgress):
        await record_payout(w["admin"], statement.public_id, reference="SEPA")
    assert (await RoyaltyStatement.get(id=statement.id)).status == "approved"
    assert await payout_entries(statement) == [] and fake_stripe.transfer_requests[w["key"]] == 3
    assert await events(w["tenant"], "payout.paid") == []

    paid = await pay_with_stripe_connect(w["admin"], statement.public_id)
    assert paid.id == failed.id and paid.status == "paid" and paid.failure is None
    transfer = fake_stripe.transfers[paid.provider_ref or ""]
    assert (transfer["amount"], transfer["currency"]) == (PAYABLE, "eur")
    assert transfer["destination"] == "acct_1AdaLovelace"
    assert transfer["metadata"]["tally_statement"] == statement.public_id
    assert paid.paid_on == date(2026, 12, 4)
    assert (await RoyaltyStatement.get(id=statement.id)).status == "paid"
    (entry,) = await payout_entries(statement)
    assert entry.amount_minor == -PAYABLE and (await Payee.get(id=w["payee"].id)).balance_minor == 0
    assert await verify_ledger(w["tenant"].id) == (1, [])
    (event,) = await events(w["tenant"], "payout.paid")
    assert (event["method"], event["provider_ref"]) == ("stripe_connect", paid.provider_ref)


def transfers_of(fake: FakeStripe, statement: RoyaltyStatement) -> list[dict[str, Any]]:
    return [
        t
        for t in fake.transfers.values()
        if t["metadata"]["tally_statement"] == statement.public_id
    ]


async def test_a_transfer_whose_answer_was_lost_is_replayed_not_repeated(
    db: str, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = await stripe_world(fake_stripe)
    statement = w["statement"]
    made = payouts._transfer_made

    async def crash(*args: Any) -> Any:
        raise RuntimeError("the process died before recording the transfer")

    monkeypatch.setattr(payouts, "_transfer_made", crash)
    with pytest.raises(RuntimeError):
        await pay_with_stripe_connect(w["admin"], statement.public_id)
    (pending,) = await RoyaltyPayout.filter(statement_id=statement.id)
    assert pending.status == "pending" and pending.provider_ref is None
    with pytest.raises(PayoutInProgress):  # paying by hand now could pay twice
        await record_payout(w["admin"], statement.public_id, reference="SEPA")
    sent = transfers_of(fake_stripe, statement)
    assert len(sent) == 1

    monkeypatch.setattr(payouts, "_transfer_made", made)
    paid = await pay_with_stripe_connect(w["admin"], statement.public_id)
    assert paid.id == pending.id and paid.status == "paid"
    assert paid.provider_ref == sent[0]["id"]  # Stripe replayed the first transfer
    assert fake_stripe.transfer_requests[w["key"]] == 2
    assert transfers_of(fake_stripe, statement) == sent
    assert len(await payout_entries(statement)) == 1
    assert len(await events(w["tenant"], "payout.paid")) == 1


async def test_a_refused_destination_fails_then_pays_once_corrected(
    db: str, fake_stripe: FakeStripe
) -> None:
    w = await stripe_world(fake_stripe, payout_account="acct_missing0001")
    statement = w["statement"]
    failed = await pay_with_stripe_connect(w["admin"], statement.public_id)
    assert failed.status == "failed" and "No such destination" in (failed.failure or "")
    assert await payout_entries(statement) == []

    # Paid through an agent: the transfer goes to the agent's connected account.
    agent = await make_payee(
        w["tenant"],
        name="Agence Lire",
        kind="agent",
        payout_method="stripe_connect",
        payout_account="acct_1AgenceLire",
    )
    await Payee.filter(id=w["payee"].id).update(agent_id=agent.id)
    paid = await pay_with_stripe_connect(w["admin"], statement.public_id)
    assert paid.id == failed.id and paid.status == "paid"
    assert fake_stripe.transfers[paid.provider_ref or ""]["destination"] == "acct_1AgenceLire"
    (entry,) = await payout_entries(statement)
    assert entry.payee_id == w["payee"].id  # the payee's ledger, whoever receives the money


async def test_stripe_connect_needs_an_account_and_a_key(db: str, fake_stripe: FakeStripe) -> None:
    w = await world(status="approved")  # paid by bank transfer: no connected account
    with pytest.raises(PayoutMethodError):
        await pay_with_stripe_connect(w["admin"], w["statement"].public_id)
    w = await world(status="approved", payout_method="stripe_connect", payout_account="acct_1X")
    with pytest.raises(PayoutMethodError) as refused:  # the tenant has no Stripe key
        await pay_with_stripe_connect(w["admin"], w["statement"].public_id)
    assert refused.value.code == "PROVIDER_NOT_CONFIGURED"
    assert await RoyaltyPayout.filter(statement_id=w["statement"].id).count() == 0


async def test_payouts_racing_for_one_statement_pay_it_once(
    db: str, fake_stripe: FakeStripe
) -> None:
    """Two Stripe payouts and a payout by hand at once: whichever wins, one payment,
    one ledger entry, and the losers told why (on PostgreSQL the payee and statement
    row locks decide; SQLite serialises the writers)."""
    w = await stripe_world(fake_stripe)
    statement, admin = w["statement"], w["admin"]
    results = await asyncio.gather(
        pay_with_stripe_connect(admin, statement.public_id),
        record_payout(admin, statement.public_id, reference="SEPA-RACE"),
        pay_with_stripe_connect(admin, statement.public_id),
        return_exceptions=True,
    )
    paid = [r for r in results if isinstance(r, RoyaltyPayout) and r.status == "paid"]
    refused = [r for r in results if isinstance(r, Exception)]
    assert paid and all(isinstance(r, AlreadyPaid | PayoutInProgress) for r in refused), results
    assert {p.id for p in paid} == {(await RoyaltyPayout.get(statement_id=statement.id)).id}
    assert len(transfers_of(fake_stripe, statement)) <= 1
    assert len(await payout_entries(statement)) == 1
    assert (await Payee.get(id=w["payee"].id)).balance_minor == 0
    assert len(await events(w["tenant"], "payout.paid")) == 1
