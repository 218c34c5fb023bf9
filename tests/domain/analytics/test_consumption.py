"""Credits, usage and royalties analytics (issue 17) over data made by the real
domain operations: grants, consumptions, refunds, reservations and a paid top-up;
ingested usage events; royalty runs, an advance and a payout. Worked figures in the
comments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from db.credit_models import CreditEntry
from db.invoice_models import Invoice
from db.querylog import count_statements
from domain import clock
from domain.analytics.cash import Interval
from domain.analytics.credit_usage import ModuleConsumed, credits_usage
from domain.analytics.royalties_owed import royalties_owed
from domain.analytics.usage_metrics import usage_by_metric
from domain.billing.simulated_clocks import advance_test_clock
from domain.credits import admin, consume, purchases, reservations
from domain.errors import PermissionDeniedError, ValidationError
from domain.payments.operations import record_payment
from domain.royalties.advances import record_advance
from domain.royalties.payouts import approve_statement, record_payout
from domain.tenancy.access import Principal, Role
from domain.usage.charges import archive_charge, create_charge
from domain.usage.ingest import ingest_events
from domain.usage.metrics import archive_metric, create_metric
from tests.domain.credits.conftest import Credits, make_credits
from tests.domain.royalties.world import RoyaltyWorld
from tests.factories import (
    admin_of,
    make_customer,
    make_plan,
    make_subscription,
    make_test_clock,
    make_test_tenant,
)

PLUS_TWO = timezone(timedelta(hours=2))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def denied(tenant_id: int, customer_id: int | None = None) -> list[Principal]:
    return [
        Principal(tenant_id, Role.SERVICE, 0),
        Principal(tenant_id, Role.CUSTOMER, 0, customer_id=customer_id),
    ]


# -- credits ---------------------------------------------------------------------------


async def _consume(c: Credits, customer: Any, module: str, qty: int, at: datetime) -> str:
    with clock.frozen_at(at):
        done = await consume.consume_credits(
            c.service,
            c.req(
                f"r-{at.isoformat()}-{customer.public_id}", module, qty, customer=customer.public_id
            ),
        )
    assert done.consumed, done.refusal
    return done.entry_id  # type: ignore[return-value]


async def _grant(c: Credits, customer: Any, amount: int, at: datetime, **extra: Any) -> None:
    with clock.frozen_at(at):
        await admin.grant_credits(c.admin, customer.public_id, amount, reason="test", **extra)


async def _credits_world() -> tuple[Credits, Any, Any, Any]:
    """Costs: rag 1, legal 3, voice 2 credits a unit. Ada, Bob and Cleo, in that
    order (Ada has the smallest internal id)."""
    with clock.frozen_at(utc(2026, 2, 1)):
        c = await make_credits()
        bob = await make_customer(tenant=c.tenant, name="Bob")
        await make_subscription(tenant=c.tenant, customer=bob, plan=c.plan)
        cleo = await make_customer(tenant=c.tenant, name="Cleo")
        await make_subscription(tenant=c.tenant, customer=cleo, plan=c.plan)
    ada = c.customer
    # Before the range: a grant and a consumption (refunded in the range, later).
    await _grant(c, ada, 100, utc(2026, 2, 20))
    early = await _consume(c, ada, "rag", 4, utc(2026, 2, 28, 12))
    # March 1: grants 100 + 100 + 50 = 250 (Ada's February 100 is before the range).
    await _grant(c, ada, 100, utc(2026, 3, 1, 10))
    await _grant(c, bob, 100, utc(2026, 3, 1, 10))
    await _grant(c, cleo, 50, utc(2026, 3, 1, 10))
    # March 3: Ada 7 rag (7 credits) at 09:00, Bob 2 legal (6) at 23:30, both UTC.
    await _consume(c, ada, "rag", 7, utc(2026, 3, 3, 9))
    await _consume(c, bob, "legal", 2, utc(2026, 3, 3, 23, 30))
    # March 10: Ada 1 legal (3), of which 2 are refunded on March 20: 1 consumed.
    legal = await _consume(c, ada, "legal", 1, utc(2026, 3, 10, 12))
    with clock.frozen_at(utc(2026, 3, 20)):
        await admin.refund_consumption(c.admin, legal, 2, reason="wrong answer")
    # March 21: Ada's February consumption refunded in full: nothing in the range moves.
    with clock.frozen_at(utc(2026, 3, 21)):
        await admin.refund_consumption(c.admin, early, reason="outage")
    # April 2: a 20-credit promotion for Cleo expiring April 20 (granted: 270 in all).
    await _grant(c, cleo, 20, utc(2026, 4, 2), kind="promotion", expires_at=utc(2026, 4, 20))
    # April 5: Cleo 3 voice (6), Bob 3 rag (3).
    await _consume(c, cleo, "voice", 3, utc(2026, 4, 5, 8))
    await _consume(c, bob, "rag", 3, utc(2026, 4, 5, 9))
    # April 6: Bob holds 2 legal (6) and releases them: nothing consumed.
    with clock.frozen_at(utc(2026, 4, 6, 10)):
        held = await reservations.reserve_credits(
            c.service, bob.public_id, "legal", "report", 2, "hold-bob"
        )
        await reservations.release_reservation(c.service, held.reservation.public_id)
    # April 7: Cleo holds 2 voice (4) and commits 1 of them: 2 consumed.
    with clock.frozen_at(utc(2026, 4, 7, 10)):
        held = await reservations.reserve_credits(
            c.service, cleo.public_id, "voice", "call", 2, "hold-cleo"
        )
        await reservations.commit_reservation(c.service, held.reservation.public_id, 1)
    # April 10: Bob buys 500 credits at 0.10 EUR, paid at once.
    await admin.update_credit_settings(
        c.admin, {"unit_prices": [{"currency": "EUR", "amount_minor": 10}]}
    )
    with clock.frozen_at(utc(2026, 4, 10)):
        bought = await purchases.purchase_credits(c.service, bob.public_id, 500)
        invoice = await Invoice.get(id=bought.invoice_id)
        await record_payment(
            c.admin, {"invoice_id": invoice.public_id, "method": "bank_transfer", "reference": "T"}
        )
    # April 25: Cleo's wallet catches up: the promotion drew her 8 April credits first
    # (it expires first), so 20 - 8 = 12 expire, written at April 20.
    with clock.frozen_at(utc(2026, 4, 25)):
        await consume.check_credits(c.service, cleo.public_id, "rag", 1)
    return c, ada, bob, cleo


async def test_credits_consumed_per_module_day_and_customer(db: str) -> None:
    c, ada, bob, cleo = await _credits_world()
    with clock.frozen_at(utc(2026, 2, 1)):
        other = await make_credits()  # another tenant, same modules, same days
    await _grant(other, other.customer, 1000, utc(2026, 3, 1))
    await _consume(other, other.customer, "rag", 500, utc(2026, 3, 3, 9))

    with count_statements() as statements:
        got = await credits_usage(c.admin, utc(2026, 3, 1), utc(2026, 5, 1), Interval.MONTH, top=3)
    assert len(statements) == 4

    march, april = got.points
    assert (march.start, march.end, april.end) == (
        utc(2026, 3, 1),
        utc(2026, 4, 1),
        utc(2026, 5, 1),
    )
    # March: rag 7 (Ada); legal 6 (Bob) + 3 - 2 refunded (Ada) = 7. April: rag 3
    # (Bob); voice 6 + 2 committed (Cleo); Bob's released hold is not consumption.
    assert march.modules == (
        ModuleConsumed("legal", 7, 2),
        ModuleConsumed("rag", 7, 0),
        ModuleConsumed("voice", 0, 0),
    )
    assert april.modules == (
        ModuleConsumed("legal", 0, 0),
        ModuleConsumed("rag", 3, 0),
        ModuleConsumed("voice", 8, 0),
    )
    assert (march.consumed, april.consumed, got.consumed, got.refunded) == (14, 11, 25, 2)

    # 61 UTC days: March 3 is 7 + 6 = 13 (23:30 UTC is still March 3), March 10 the
    # 1 kept, April 5 6 + 3 = 9, April 7 the 2 committed.
    assert len(got.days) == 61 and got.days[0].day == date(2026, 3, 1)
    busy = {d.day: d.consumed for d in got.days if d.consumed}
    assert busy == {
        date(2026, 3, 3): 13,
        date(2026, 3, 10): 1,
        date(2026, 4, 5): 9,
        date(2026, 4, 7): 2,
    }
    assert sum(d.consumed for d in got.days) == got.consumed

    # Bob 6 + 3 = 9; Ada 7 + 1 = 8 and Cleo 6 + 2 = 8 tie: Ada was created first.
    assert [(t.customer_id, t.name, t.consumed) for t in got.top_consumers] == [
        (bob.public_id, "Bob", 9),
        (ada.public_id, ada.name, 8),
        (cleo.public_id, "Cleo", 8),
    ]
    top_two = await credits_usage(c.admin, utc(2026, 3, 1), utc(2026, 5, 1), Interval.MONTH, top=2)
    assert [t.name for t in top_two.top_consumers] == ["Bob", ada.name]

    # In: 250 granted on March 1 and Cleo's 20 promotion; 500 bought; no allowance.
    # Out: 12 of the promotion expired. The refund lots are reversals, not grants.
    assert (got.granted, got.allowance, got.purchased, got.expired) == (270, 0, 500, 12)
    invoice = await Invoice.get(customer_id=bob.id, billing_reason="credit_purchase")
    (eur,) = got.bought
    assert (eur.currency, eur.purchases, eur.credits) == ("EUR", 1, 500)
    # 500 x 0.10 EUR = 50.00 EUR before tax; 60.00 with the French 20 % VAT.
    assert (eur.net_minor, eur.total_minor) == (5000, 6000)
    assert (invoice.total_minor, invoice.tax_minor) == (6000, 1000)
    assert await CreditEntry.filter(tenant_id=c.tenant.id, kind="refund").count() == 2

    # The other tenant sees only its own 500 rag.
    theirs = await credits_usage(other.admin, utc(2026, 3, 1), utc(2026, 5, 1), Interval.MONTH)
    assert theirs.consumed == 500 and [m.module for m in theirs.points[0].modules] == ["rag"]
    assert [t.customer_id for t in theirs.top_consumers] == [other.customer.public_id]
    assert (theirs.granted, theirs.purchased, theirs.bought) == (1000, 0, ())


async def test_credit_intervals_and_days_are_cut_exactly_in_any_time_zone(db: str) -> None:
    c, ada, _, _ = await _credits_world()
    # March 3 in UTC+2 is [March 2 22:00, March 3 22:00) UTC: Ada's 09:00 UTC rag is
    # in it, Bob's 23:30 UTC legal is not. Its UTC days: 2 hours of March 2, then
    # 22 hours of March 3.
    got = await credits_usage(
        c.admin,
        datetime(2026, 3, 3, tzinfo=PLUS_TWO),
        datetime(2026, 3, 4, tzinfo=PLUS_TWO),
        Interval.DAY,
    )
    (point,) = got.points
    assert point.modules == (ModuleConsumed("rag", 7, 0),)
    assert [(d.day, d.consumed) for d in got.days] == [(date(2026, 3, 2), 0), (date(2026, 3, 3), 7)]
    assert [t.customer_id for t in got.top_consumers] == [ada.public_id]
    # Weeks from Monday March 2: the refund of March 20 is taken off March 10's week.
    weeks = await credits_usage(c.admin, utc(2026, 3, 2), utc(2026, 3, 23), Interval.WEEK)
    assert [(p.consumed, p.refunded) for p in weeks.points] == [(13, 0), (1, 2), (0, 0)]


async def test_credits_usage_checks_its_caller_and_input(db: str) -> None:
    c = await make_credits()
    start, end = utc(2026, 3, 1), utc(2026, 4, 1)
    for who in denied(c.tenant.id, c.customer.id):
        with pytest.raises(PermissionDeniedError):
            await credits_usage(who, start, end, Interval.DAY)
    for top in (0, 101, True):
        with pytest.raises(ValidationError) as raised:
            await credits_usage(c.admin, start, end, Interval.DAY, top=top)
        assert raised.value.field == "top"
    with pytest.raises(ValidationError):
        await credits_usage(c.admin, end, start, Interval.DAY)  # to before from
    with pytest.raises(ValidationError):
        await credits_usage(c.admin, datetime(2026, 3, 1), end, Interval.DAY)  # no zone
    with pytest.raises(ValidationError):
        await credits_usage(c.admin, utc(2020, 1, 1), utc(2026, 1, 1), Interval.MONTH)  # days
    analyst = Principal(c.tenant.id, Role.ANALYST, 0)
    empty = await credits_usage(analyst, start, end, Interval.WEEK, top=100)
    assert empty.consumed == 0 and empty.top_consumers == () and len(empty.points) == 5


# -- usage -----------------------------------------------------------------------------


async def _metered(at: datetime) -> tuple[Any, Principal, Any, Any]:
    tenant = await make_test_tenant()
    test_clock = await make_test_clock(tenant=tenant, at=at)
    customer = await make_customer(tenant=tenant, country="US", test_clock_id=test_clock.public_id)
    plan = await make_plan(tenant=tenant, prices=[("EUR", 1_000)], name="Stream")
    return tenant, admin_of(tenant), test_clock, (customer, plan)


async def _metric(who: Principal, plan: Any, code: str, aggregation: str, **data: Any) -> Any:
    metric = await create_metric(
        who, {"code": code, "name": code.title(), "aggregation": aggregation, **data}
    )
    charge = await create_charge(
        who,
        {
            "plan_id": plan.public_id,
            "metric_id": metric.code,
            "model": "PER_UNIT",
            "prices": [{"currency": "EUR", "properties": {"unitPrice": "0.01"}}],
        },
    )
    return metric, charge


def _event(n: str, code: str, at: datetime, **properties: Any) -> dict[str, Any]:
    return {
        "transactionId": n,
        "metricCode": code,
        "timestamp": at.isoformat(),
        "properties": properties,
    }


async def test_usage_per_metric_and_week(db: str) -> None:
    tenant, who, test_clock, (customer, plan) = await _metered(utc(2027, 3, 1))
    await _metric(who, plan, "calls", "COUNT")
    await _metric(who, plan, "tokens", "SUM", field_name="tokens")
    await _metric(who, plan, "peak", "MAX", field_name="disk.gb")
    await _metric(who, plan, "users", "UNIQUE_COUNT", field_name="user")
    old, old_charge = await _metric(who, plan, "old", "COUNT")
    gone, gone_charge = await _metric(who, plan, "gone", "COUNT")
    await make_subscription(tenant=tenant, customer=customer, plan=plan)
    await advance_test_clock(who, test_clock.public_id, utc(2027, 3, 20))
    events = [
        _event("c1", "calls", utc(2027, 3, 2, 10)),
        _event("c2", "calls", utc(2027, 3, 2, 11)),
        _event("c3", "calls", utc(2027, 3, 9)),
        _event("t1", "tokens", utc(2027, 3, 2), tokens=0.1),
        _event("t2", "tokens", utc(2027, 3, 3), tokens="0.2"),
        _event("t3", "tokens", utc(2027, 3, 9), tokens="12345678901234567890.5"),
        _event("t4", "tokens", utc(2027, 3, 10), tokens=-5),  # a correction
        _event("t5", "tokens", utc(2027, 3, 16), tokens=1000),  # after the range
        _event("p1", "peak", utc(2027, 3, 2), **{"disk.gb": 3.5}),
        _event("p2", "peak", utc(2027, 3, 4), **{"disk.gb": "7.25"}),
        _event("p3", "peak", utc(2027, 3, 9), **{"disk.gb": 2}),
        _event("u1", "users", utc(2027, 3, 2), user="a"),
        _event("u2", "users", utc(2027, 3, 3), user="a"),
        _event("o1", "old", utc(2027, 3, 12)),
    ]
    report = await ingest_events(who, [{"customerId": customer.public_id, **e} for e in events])
    assert {o.status for o in report.outcomes} == {"ACCEPTED"}
    await archive_charge(who, old_charge.public_id)
    await archive_metric(who, old.public_id)
    await archive_charge(who, gone_charge.public_id)
    await archive_metric(who, gone.public_id)  # archived without events: not listed
    # Another tenant's calls in the same weeks never show.
    t2, who2, clock2, (customer2, plan2) = await _metered(utc(2027, 3, 1))
    await _metric(who2, plan2, "calls", "COUNT")
    await make_subscription(tenant=t2, customer=customer2, plan=plan2)
    await advance_test_clock(who2, clock2.public_id, utc(2027, 3, 20))
    await ingest_events(
        who2, [{"customerId": customer2.public_id, **_event("x", "calls", utc(2027, 3, 2))}]
    )

    with count_statements() as statements:
        got = await usage_by_metric(who, utc(2027, 3, 1), utc(2027, 3, 15), Interval.WEEK)
    assert len(statements) == 2
    by_code = {m.code: m for m in got}
    assert list(by_code) == ["calls", "old", "peak", "tokens", "users"]
    weeks = lambda code: [(p.events, p.quantity) for p in by_code[code].points]  # noqa: E731
    # Weeks [March 1, 8) and [March 8, 15).
    assert weeks("calls") == [(2, Decimal(2)), (1, Decimal(1))]
    # 0.1 + 0.2 = 0.3 exactly (a float sum says 0.30000000000000004); then
    # 12345678901234567890.5 - 5 = 12345678901234567885.5; March 16 is after the range.
    assert weeks("tokens") == [(2, Decimal("0.3")), (2, Decimal("12345678901234567885.5"))]
    assert str(by_code["tokens"].points[0].quantity) == "0.3"
    assert by_code["tokens"].quantity == Decimal("12345678901234567885.8")
    assert by_code["tokens"].field_name == "tokens" and by_code["tokens"].events == 4
    # The greatest value sent each week (a property name with a dot is one key).
    assert weeks("peak") == [(2, Decimal("7.25")), (1, Decimal(2))]
    assert by_code["peak"].quantity == Decimal("7.25")
    assert weeks("users") == [(2, None), (0, None)]
    assert by_code["old"].archived and weeks("old") == [(0, Decimal(0)), (1, Decimal(1))]
    assert by_code["calls"].metric_id.startswith("bm_") and not by_code["calls"].archived

    (theirs,) = await usage_by_metric(who2, utc(2027, 3, 1), utc(2027, 3, 15), Interval.WEEK)
    assert theirs.events == 1


async def test_usage_by_metric_checks_its_caller_and_input(db: str) -> None:
    tenant, who, _, (customer, _) = await _metered(utc(2027, 3, 1))
    for principal in denied(tenant.id, customer.id):
        with pytest.raises(PermissionDeniedError):
            await usage_by_metric(principal, utc(2027, 3, 1), utc(2027, 4, 1), Interval.DAY)
    with pytest.raises(ValidationError):
        await usage_by_metric(who, utc(2027, 4, 1), utc(2027, 3, 1), Interval.DAY)
    assert await usage_by_metric(who, utc(2027, 3, 1), utc(2027, 4, 1), Interval.DAY) == []


# -- royalties -------------------------------------------------------------------------


async def test_royalties_owed_per_currency_now_and_at_an_instant(db: str) -> None:
    world = await RoyaltyWorld.create()
    ada = await world.payee("Ada")  # 70 % of sales, threshold 100.00 EUR
    bob = await world.payee("Bob")
    cleo = await world.payee("Cleo")
    dan = await world.payee("Dan", currency="USD")
    await world.payee("Eve")  # nothing yet: not counted
    ada_book = await world.work("ada", {ada: "100"})
    bob_book = await world.work("bob", {bob: "100"})
    cleo_book = await world.work("cleo", {cleo: "100"})
    dan_book = await world.work("dan", {dan: "100"})
    with clock.frozen_at(utc(2026, 10, 1)):
        await record_advance(world.admin, cleo.public_id, 50000, "EUR")  # 500.00 EUR
    # October, net of tax: Ada 200.00 → 140.00 payable; Bob 20.00 → 14.00, below the
    # threshold, carried; Cleo 100.00 → 70.00, all recouped (430.00 left); Dan 200.00
    # EUR → 140.00 EUR → 154.00 USD at 1.1, above 110.00 USD (the threshold converted).
    ada_sale = await world.sell(ada_book, 20000, utc(2026, 10, 3))
    await world.sell(bob_book, 2000, utc(2026, 10, 4))
    await world.sell(cleo_book, 10000, utc(2026, 10, 5))
    await world.sell(dan_book, 20000, utc(2026, 10, 6))
    await world.rate("2026-10", "EUR", "USD", "1.1")
    with clock.frozen_at(utc(2026, 11, 2)):
        await world.run("2026-10")
    ada_october = await world.statement(ada, "2026-10")
    with clock.frozen_at(utc(2026, 11, 5)):
        await approve_statement(world.admin, ada_october.public_id)
    with clock.frozen_at(utc(2026, 11, 10)):
        await record_payout(world.admin, ada_october.public_id, reference="transfer 1")
    # November: Ada's sale refunded in full after its payout: 140.00 clawed back, a
    # debt carried; Bob's 14.00 carried again.
    await world.refund(ada_sale, utc(2026, 11, 15))
    await world.rate("2026-11", "EUR", "USD", "1.1")
    with clock.frozen_at(utc(2026, 12, 2)):
        await world.run("2026-11")
    other = await RoyaltyWorld.create()  # another tenant's payable never shows
    zed = await other.payee("Zed")
    await other.sell(await other.work("zed", {zed: "100"}), 90000, utc(2026, 10, 3))
    with clock.frozen_at(utc(2026, 11, 2)):
        await other.run("2026-10")

    def eur_usd(rows: list[Any]) -> tuple[Any, Any]:
        assert [r.currency for r in rows] == ["EUR", "USD"]
        return rows[0], rows[1]

    # November 3: Ada's 140.00 and Dan's 154.00 USD await approval; Bob carries 14.00;
    # Cleo's advance has 430.00 left. Ada, Bob, Cleo have EUR ledgers (Eve none).
    eur, usd = eur_usd(await royalties_owed(world.admin, utc(2026, 11, 3)))
    assert (eur.payable_minor, eur.awaiting_approval_minor, eur.approved_minor) == (14000, 14000, 0)
    assert (eur.carried_minor, eur.recoverable_minor, eur.advances_outstanding_minor) == (
        1400,
        0,
        43000,
    )
    assert (eur.payees, eur.payees_payable, eur.payees_carrying, eur.payees_with_advance) == (
        3,
        1,
        1,
        1,
    )
    assert (eur.unpaid_statements, eur.owed_minor, eur.reserve_held_minor) == (1, 15400, 0)
    assert (usd.payable_minor, usd.awaiting_approval_minor, usd.payees, usd.payees_payable) == (
        15400,
        15400,
        1,
        1,
    )
    # November 6: Ada's statement approved, not paid.
    eur, _ = eur_usd(await royalties_owed(world.admin, utc(2026, 11, 6)))
    assert (eur.payable_minor, eur.awaiting_approval_minor, eur.approved_minor) == (14000, 0, 14000)
    # November 11: paid; nothing payable in EUR, Bob's 14.00 still carried.
    eur, _ = eur_usd(await royalties_owed(world.admin, utc(2026, 11, 11)))
    assert (eur.payable_minor, eur.unpaid_statements, eur.carried_minor) == (0, 0, 1400)
    # Now: November's run clawed back Ada's 140.00, recovered from later earnings.
    eur, usd = eur_usd(await royalties_owed(world.admin))
    assert (eur.payable_minor, eur.carried_minor, eur.recoverable_minor) == (0, 1400, 14000)
    assert (eur.payees_carrying, eur.payees_in_debt, eur.owed_minor) == (1, 1, 1400)
    assert (usd.payable_minor, usd.unpaid_statements) == (15400, 1)
    # Before anything: no currency at all.
    assert await royalties_owed(world.admin, utc(2026, 9, 1)) == []
    (zed_eur,) = await royalties_owed(other.admin)
    assert (zed_eur.payable_minor, zed_eur.payees) == (63000, 1)


async def test_royalties_owed_checks_its_caller_and_input(db: str) -> None:
    world = await RoyaltyWorld.create()
    payee = Principal(world.tenant.id, Role.PAYEE, 0, payee_id=1)
    for who in [*denied(world.tenant.id, world.customer.id), payee]:
        with pytest.raises(PermissionDeniedError):
            await royalties_owed(who)
    with pytest.raises(ValidationError):
        await royalties_owed(world.admin, datetime(2026, 11, 1))  # no time zone
    assert await royalties_owed(world.admin) == []
