"""A royalty period's facts read from real invoices, payments, credit notes, usage,
reads and credit consumptions (issue 16), built through the domain.

Worked figures (tenant and customers in France: 20 % VAT):

- March, invoice "one": 2 x 10.00 of Dune (SALE), 500.00 of Emma's film rights
  (LICENSE), 5.00 shipping; 525.00 + 105.00 VAT, paid 6 March. A credit note of
  126.00 on 20 March is 105.00 net, spread over the nets 20.00 / 500.00 / 5.00:
  4.00 / 100.00 / 1.00. A second one of 63.00 in April (52.50 net): 2.00 / 50.00
  / 0.50, returns of April.
- March, invoice "ebook": 9.99 of Dune, tax included: 9.99 - 9.99 x 100/120 = 1.665,
  half-up 1.66 of tax.
- March, invoice "hardback": 3 x 7.00 of Emma, credited 12.60 (10.50 net) in April:
  an April return of 10.50.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from db.invoice_models import Invoice, InvoiceLine
from db.royalty_models import Payee, RoyaltyAdjustment, Work
from domain import clock
from domain.billing.simulated_clocks import advance_test_clock
from domain.catalog.add_ons import create_add_on
from domain.catalog.coupons import create_coupon
from domain.credits.admin import grant_credits
from domain.credits.consume import consume_credits
from domain.credits.requests import ConsumeRequest
from domain.ids import new_id
from domain.invoicing.credit_notes import create_credit_note
from domain.invoicing.service import create_invoice
from domain.payments.operations import record_payment
from domain.royalties.earnings import LineFigures, TransactionType
from domain.royalties.facts import AdjustmentFact, PeriodFacts, ReturnFact, SaleFact
from domain.royalties.reads import record_reads
from domain.royalties.settings import RoyaltyPeriod
from domain.royalties.sources import period_facts
from domain.usage.charges import create_charge
from domain.usage.ingest import ingest_events
from domain.usage.metrics import create_metric
from tests.factories import (
    admin_of,
    make_customer,
    make_plan,
    make_subscription,
    make_test_clock,
    make_test_tenant,
)

MARCH, APRIL = RoyaltyPeriod(2026, 3), RoyaltyPeriod(2026, 4)
SALE, LICENSE, USAGE = TransactionType.SALE, TransactionType.LICENSE, TransactionType.USAGE
UNKNOWN_WORK = "wrk_0000000000000000"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def make_work(tenant: Any, code: str) -> Work:
    at = clock.now()
    return await Work.create(
        public_id=new_id("work"),
        tenant_id=tenant.id,
        code=code,
        title=code.title(),
        created_at=at,
        updated_at=at,
    )


class Shop:
    """A French tenant selling two works, Dune and Emma."""

    async def setup(self) -> Shop:
        self.tenant = await make_test_tenant(country="FR")
        self.admin = admin_of(self.tenant)
        self.customer = await make_customer(tenant=self.tenant, country="FR")
        self.dune = await make_work(self.tenant, "dune")
        self.emma = await make_work(self.tenant, "emma")
        return self

    async def sell(self, at: datetime, *items: dict[str, Any], customer: Any = None) -> Invoice:
        with clock.frozen_at(at):
            return await create_invoice(
                self.admin,
                {
                    "customer_id": (customer or self.customer).public_id,
                    "items": list(items),
                    "finalize": True,
                },
            )

    async def pay(self, invoice: Invoice, at: datetime | None = None) -> Invoice:
        data = {"invoice_id": invoice.public_id, "method": "bank_transfer", "reference": "T"}
        if at is None:  # a customer on a test clock pays at its time
            await record_payment(self.admin, data)
        else:
            with clock.frozen_at(at):
                await record_payment(self.admin, data)
        return await Invoice.get(id=invoice.id)

    async def credit(self, invoice: Invoice, at: datetime, total_minor: int) -> int:
        with clock.frozen_at(at):
            note = await create_credit_note(
                self.admin,
                {
                    "invoice_id": invoice.public_id,
                    "reason": "requested_by_customer",
                    "amount": {"currency": "EUR", "amount_minor": total_minor},
                },
            )
        return int(note.id)

    async def meter(self, plan: Any, code: str, unit_price: str, **metric: Any) -> None:
        """A metric (COUNT unless told) and its per-unit charge on `plan`."""
        data = {"code": code, "name": code, "aggregation": "COUNT", **metric}
        await create_metric(self.admin, data)
        prices = [{"currency": "EUR", "properties": {"unitPrice": unit_price}}]
        await create_charge(
            self.admin,
            {"plan_id": plan.public_id, "metric_id": code, "model": "PER_UNIT", "prices": prices},
        )


def item(description: str, unit_minor: int, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "quantity": quantity,
        "unit_price": {"currency": "EUR", "amount_minor": unit_minor},
        **extra,
    }


async def line_id(invoice: Invoice, description: str | None = None, **where: Any) -> int:
    if description is not None:
        where["description"] = description
    return int((await InvoiceLine.get(invoice_id=invoice.id, **where)).id)


async def test_one_off_sales_their_credit_notes_and_later_returns(db: str) -> None:
    shop = await Shop().setup()
    dune, emma = shop.dune, shop.emma
    # Its credit notes become the buyer's credit, which would pay its next invoices.
    buyer = await make_customer(tenant=shop.tenant, country="FR", name="Buyer")
    one = await shop.sell(
        utc(2026, 3, 5),
        item("Dune, paperback", 1000, 2, work_id=dune.public_id),
        item("Emma, film rights", 50000, work_id=emma.public_id, work_use="LICENSE"),
        item("Shipping", 500),
        customer=buyer,
    )
    one = await shop.pay(one, utc(2026, 3, 6, 9, 30))
    assert (one.total_minor, one.paid_at) == (63000, utc(2026, 3, 6, 9, 30))
    note_march = await shop.credit(one, utc(2026, 3, 20), 12600)
    ebook = await shop.sell(
        utc(2026, 3, 10), item("Dune, ebook", 999, work_id=dune.public_id, tax_behavior="inclusive")
    )
    ebook = await shop.pay(ebook, utc(2026, 3, 10, 12))
    hardback = await shop.sell(utc(2026, 3, 15), item("Emma", 700, 3, work_id=emma.public_id))
    hardback = await shop.pay(hardback, utc(2026, 3, 15, 23, 59, 59))
    # Not March's (made before the notes, whose credit would pay them): unpaid, paid in February, paid in April.
    await shop.sell(utc(2026, 3, 5), item("Dune, unpaid", 1000, work_id=dune.public_id))
    february = await shop.sell(utc(2026, 2, 27), item("Dune, Feb", 800, work_id=dune.public_id))
    await shop.pay(february, utc(2026, 2, 28, 23, 59, 59))
    april = await shop.sell(utc(2026, 3, 31), item("Dune, April", 600, work_id=dune.public_id))
    await shop.pay(april, utc(2026, 4, 1))
    note_april = await shop.credit(hardback, utc(2026, 4, 10), 1260)
    note_one_april = await shop.credit(one, utc(2026, 4, 11), 6300)
    # Another tenant selling in March is not this tenant's.
    other = await Shop().setup()
    sold = await other.sell(utc(2026, 3, 5), item("Theirs", 1000, work_id=other.dune.public_id))
    await other.pay(sold, utc(2026, 3, 6))

    paperback, rights = (
        await line_id(one, "Dune, paperback"),
        await line_id(one, "Emma, film rights"),
    )
    ebook_line, hardback_line = await line_id(ebook), await line_id(hardback)
    march = await period_facts(shop.tenant.id, MARCH)
    assert march == PeriodFacts(
        sales=(
            SaleFact(paperback, dune.id, SALE, "EUR", 2, LineFigures(2000, 0, 0, 400), one.paid_at),
            SaleFact(
                rights, emma.id, LICENSE, "EUR", 1, LineFigures(50000, 0, 0, 10000), one.paid_at
            ),
            SaleFact(
                ebook_line, dune.id, SALE, "EUR", 1, LineFigures(999, 0, 166, 0), ebook.paid_at
            ),
            SaleFact(
                hardback_line, emma.id, SALE, "EUR", 3, LineFigures(2100, 0, 0, 0), hardback.paid_at
            ),
        ),
        collected_by_currency={},
    )
    april_facts = await period_facts(shop.tenant.id, APRIL)
    april_line = await line_id(april)
    assert april_facts.sales == (
        SaleFact(april_line, dune.id, SALE, "EUR", 1, LineFigures(600, 0, 0, 0), utc(2026, 4, 1)),
    )
    assert sorted(april_facts.returns, key=lambda r: r.credit_note_id) == [
        ReturnFact(hardback_line, emma.id, note_april, "EUR", 1050, utc(2026, 4, 10)),
        ReturnFact(paperback, dune.id, note_one_april, "EUR", 200, utc(2026, 4, 11)),
        ReturnFact(rights, emma.id, note_one_april, "EUR", 5000, utc(2026, 4, 11)),
    ]
    assert note_march not in {r.credit_note_id for r in april_facts.returns}
    # Nothing in May: facts are of their period only.
    assert await period_facts(shop.tenant.id, RoyaltyPeriod(2026, 5)) == PeriodFacts()


async def test_subscriptions_add_ons_usage_groups_and_the_collected_pool(db: str) -> None:
    """March: a reader subscribes at 10.00 with an audiobook add-on of Dune at 5.00,
    10 % off, paid 3 March (lines 9.00 and 4.50 net); 3.24 credited on 25 March (2.70
    net: 1.80 of the plan, 0.90 of the add-on). A metered reader on a test clock pays
    its first 10.00 (9.00 after 10 %), and an inclusive plan of 9.99 brings 8.33 net
    (9.99 x 100/120, half-up, as the invoice took the tax out). The pool collected in
    March: 9.00 - 1.80 + 9.00 + 8.33 = 24.53.

    April: the metered reader's pages of March close at 65 x 0.10 = 6.50 in four
    groups (Dune 3.00, Emma 2.00, an unknown work 1.00, none 0.50), 10 % off shared
    pro rata; Dune's and Emma's groups are USAGE sales, the rest stays in the pool:
    April's plan 9.00 + usage 5.85 - 2.70 - 1.80 = 10.35."""
    shop = await Shop().setup()
    tenant, admin, dune, emma = shop.tenant, shop.admin, shop.dune, shop.emma
    await create_coupon(admin, {"code": "TEN", "percent_off": "10", "duration": "forever"})
    reader_plan = await make_plan(tenant=tenant, code="reader", prices=[("EUR", 1000)])
    with clock.frozen_at(utc(2026, 3, 1)):
        audio = await create_add_on(
            admin,
            {
                "code": "audio",
                "name": "Audiobook",
                "kind": "recurring",
                "prices": [{"currency": "EUR", "amount_minor": 500}],
                "work_id": dune.public_id,
            },
        )
    with clock.frozen_at(utc(2026, 3, 2)):
        sub = await make_subscription(
            tenant=tenant,
            customer=shop.customer,
            plan=reader_plan,
            coupon_code="TEN",
            add_ons=[{"add_on_id": audio.public_id}],
        )
    first = await Invoice.get(subscription_id=sub.id)
    first = await shop.pay(first, utc(2026, 3, 3))
    await shop.credit(first, utc(2026, 3, 25), 324)
    digital = await make_plan(
        tenant=tenant, code="digital", prices=[("EUR", 999)], tax_behavior="inclusive"
    )
    other_reader = await make_customer(tenant=tenant, country="FR", name="Other")
    with clock.frozen_at(utc(2026, 3, 4)):
        inclusive = await make_subscription(tenant=tenant, customer=other_reader, plan=digital)
    await shop.pay(await Invoice.get(subscription_id=inclusive.id), utc(2026, 3, 4))

    # The metered reader, on a test clock.
    test_clock = await make_test_clock(tenant=tenant, at=utc(2026, 3, 1))
    metered = await make_customer(
        tenant=tenant, country="FR", name="Metered", test_clock_id=test_clock.public_id
    )
    stream = await make_plan(tenant=tenant, code="stream", prices=[("EUR", 1000)])
    await shop.meter(
        stream, "pages", "0.10", aggregation="SUM", field_name="pages", dimensions=["workId"]
    )
    metered_sub = await make_subscription(
        tenant=tenant, customer=metered, plan=stream, coupon_code="TEN"
    )
    await shop.pay(await Invoice.get(subscription_id=metered_sub.id))
    pages = [(30, dune.public_id), (20, emma.public_id), (10, UNKNOWN_WORK), (5, None)]
    events = [
        {
            "transactionId": f"p{n}",
            "customerId": metered.public_id,
            "metricCode": "pages",
            "properties": {"pages": count, **({"workId": work} if work else {})},
        }
        for n, (count, work) in enumerate(pages)
    ]
    assert (await ingest_events(admin, events)).count("ACCEPTED") == 4
    await advance_test_clock(admin, test_clock.public_id, utc(2026, 4, 2))
    closing = await Invoice.filter(subscription_id=metered_sub.id).order_by("-id").first()
    assert closing is not None
    closing = await shop.pay(closing)
    assert closing.paid_at == utc(2026, 4, 2)

    march = await period_facts(tenant.id, MARCH)
    add_on_line = await line_id(first, kind="add_on")
    assert march.sales == (
        SaleFact(add_on_line, dune.id, SALE, "EUR", 1, LineFigures(500, 50, 0, 90), first.paid_at),
    )
    assert march.collected_by_currency == {"EUR": 2453}
    assert march.returns == ()

    april = await period_facts(tenant.id, APRIL)
    usage_line = await line_id(closing, kind="usage")
    assert april.sales == (
        SaleFact(usage_line, dune.id, USAGE, "EUR", 1, LineFigures(300, 30, 0, 0), closing.paid_at),
        SaleFact(usage_line, emma.id, USAGE, "EUR", 1, LineFigures(200, 20, 0, 0), closing.paid_at),
    )
    assert april.collected_by_currency == {"EUR": 1035}


async def test_reads_from_recorded_reads_usage_events_and_consumptions(db: str) -> None:
    """March's reads: Dune 5 recorded + 3 read events (one each: no `reads`, a
    string, a fraction) + 3 consumed = 11; Emma 2 recorded + 4 (an event whose `reads`
    is 4) + 1 consumed = 7. Pages events naming works are not reads, nor April's."""
    shop = await Shop().setup()
    tenant, admin, dune, emma = shop.tenant, shop.admin, shop.dune, shop.emma
    with clock.frozen_at(utc(2026, 4, 1, 12)):
        report = await record_reads(
            admin,
            [
                {
                    "requestId": "r1",
                    "workId": dune.public_id,
                    "count": 5,
                    "occurredAt": "2026-03-10T10:00:00Z",
                },
                {
                    "requestId": "r2",
                    "workId": emma.public_id,
                    "count": 2,
                    "occurredAt": "2026-04-01T01:59:59+02:00",
                },
                {
                    "requestId": "r3",
                    "workId": dune.public_id,
                    "count": 100,
                    "occurredAt": "2026-04-01T00:00:00Z",
                },
            ],
        )
    assert report.count("ACCEPTED") == 3
    # Read events, on a metered plan (events need a charge, even a free one).
    test_clock = await make_test_clock(tenant=tenant, at=utc(2026, 3, 1))
    reader = await make_customer(tenant=tenant, test_clock_id=test_clock.public_id)
    plan = await make_plan(tenant=tenant, code="reads", prices=[("EUR", 0)])
    for code in ("read", "pages"):
        await shop.meter(plan, code, "0")
    await make_subscription(tenant=tenant, customer=reader, plan=plan)
    sent = [
        ("read", {"workId": dune.public_id}),
        ("read", {"workId": emma.public_id, "reads": 4}),
        ("read", {"workId": dune.public_id, "reads": "7"}),
        ("read", {"workId": dune.public_id, "reads": 2.5}),
        ("read", {"workId": UNKNOWN_WORK, "reads": 9}),
        ("read", {"reads": 9}),
        ("pages", {"workId": dune.public_id}),
    ]
    events = [
        {
            "transactionId": f"e{n}",
            "customerId": reader.public_id,
            "metricCode": code,
            "properties": props,
        }
        for n, (code, props) in enumerate(sent)
    ]
    assert (await ingest_events(admin, events)).count("ACCEPTED") == len(sent)
    # Consumptions of credits whose metadata names a work.
    credits_plan = await make_plan(
        tenant=tenant, code="credits", prices=[("EUR", 0)], monthly_credits=0, features=["rag"]
    )
    spender = await make_customer(tenant=tenant, name="Spender")
    await make_subscription(tenant=tenant, customer=spender, plan=credits_plan)
    await grant_credits(admin, spender.public_id, 100, reason="test")
    with clock.frozen_at(utc(2026, 3, 12)):
        for request_id, quantity, metadata in (
            ("c1", 3, {"workId": dune.public_id}),
            ("c2", 1, {"workId": emma.public_id}),
            ("c3", 2, None),
        ):
            await consume_credits(
                admin,
                ConsumeRequest(spender.public_id, "rag", "read", quantity, request_id, metadata),
            )
    # Another tenant's reads of its own works are not counted.
    other = await Shop().setup()
    await record_reads(
        other.admin,
        [{"requestId": "x", "workId": other.dune.public_id, "occurredAt": "2026-03-10T00:00:00Z"}],
    )
    at = clock.now()
    payee = await Payee.create(
        public_id=new_id("payee"),
        tenant_id=tenant.id,
        name="Author",
        kind="author",
        payout_currency="EUR",
        created_at=at,
        updated_at=at,
    )
    adjustments = [
        await RoyaltyAdjustment.create(
            public_id=new_id("royalty_adjustment"),
            tenant_id=tenant.id,
            payee_id=payee.id,
            work_id=work,
            period=period,
            amount_minor=amount,
            currency="EUR",
            reason=reason,
            created_at=at,
            updated_at=at,
        )
        for work, period, amount, reason in (
            (dune.id, "2026-03", -1500, "Misreported sales"),
            (None, "2026-04", 700, "Bonus"),
        )
    ]

    march = await period_facts(tenant.id, MARCH)
    assert march.reads_by_work == {dune.id: 11, emma.id: 7}
    assert march.adjustments == (
        AdjustmentFact(adjustments[0].id, payee.id, dune.id, "EUR", -1500, "Misreported sales"),
    )
    assert march.sales == () and march.returns == ()
    # The tenant's read event code decides which events are reads.
    tenant.royalty_settings = {"readEventCode": "pages"}
    await tenant.save()
    assert (await period_facts(tenant.id, MARCH)).reads_by_work == {dune.id: 9, emma.id: 3}
    assert (await period_facts(tenant.id, APRIL)).reads_by_work == {dune.id: 100}
