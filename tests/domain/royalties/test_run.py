"""The royalty run end to end: real invoices paid and credited through the domain,
statements and ledger read back. Worked cases of issue 16 in the comments."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.transactions import in_transaction

from db.royalty_models import Contract, Payee, RoyaltyEarning, RoyaltyRun, RoyaltyStatement
from domain import clock
from domain.errors import ValidationError
from domain.invoicing.service import create_invoice
from domain.royalties import ledger, period_guard
from domain.royalties import run as royalty_run
from domain.royalties.rates import set_exchange_rates
from domain.royalties.settings import RoyaltyPeriod
from tests.domain.royalties.world import RoyaltyWorld, figures, utc


@pytest.fixture
async def world(db: str) -> RoyaltyWorld:
    return await RoyaltyWorld.create()


async def _ledger_ok(world: RoyaltyWorld) -> None:
    checked, wrong = await ledger.verify_ledger(world.tenant.id)
    assert checked and wrong == []


async def test_seventy_percent_below_then_above_the_threshold(world: RoyaltyWorld) -> None:
    # Worked case: 70 % of a sale, paid once the balance passes 100 EUR. September: a
    # 20.00 EUR sale earns 14.00, below 100.00: carried. October: a 200.00 EUR sale
    # earns 140.00; with the 14.00 carried that is 154.00: payable, nothing carried.
    author = await world.payee("Ada")
    book = await world.work("book", {author: "100"})
    await world.sell(book, 2000, utc(2026, 9, 10))
    await world.sell(book, 20000, utc(2026, 10, 3))
    assert (await world.run("2026-09")).statements_created == 1
    september = await world.statement(author, "2026-09")
    assert september.status == "carried"
    assert (september.earnings_minor, september.payable_minor, september.closing_minor) == (
        1400,
        0,
        1400,
    )
    await world.run("2026-10")
    october = await world.statement(author, "2026-10")
    assert (october.status, october.opening_minor, october.earnings_minor) == ("draft", 1400, 14000)
    assert (october.payable_minor, october.closing_minor) == (15400, 0)
    line = october.document["lines"][0]
    assert (line["kind"], line["rate"], line["units"], line["basisMinor"]) == (
        "SALE",
        "70",
        1,
        20000,
    )
    assert (await Payee.get(id=author.id)).balance_minor == 15400
    await _ledger_ok(world)


async def test_the_subscription_pool_pays_fifty_percent_of_what_reads_earned(
    world: RoyaltyWorld,
) -> None:
    # Worked case: 300.00 EUR of subscriptions collected (pool rate 100 %), reads 3:1
    # between two books: 225.00 and 75.00; their authors earn 50 %: 112.50 and 37.50.
    from db.royalty_models import RoyaltyRead
    from tests.factories import make_plan, make_subscription

    ada, bob = await world.payee("Ada"), await world.payee("Bob")
    one, two = await world.work("one", {ada: "100"}), await world.work("two", {bob: "100"})
    plan = await make_plan(tenant=world.tenant, prices=[("EUR", 30000)])
    from domain import clock
    from domain.payments.operations import record_payment

    with clock.frozen_at(utc(2026, 10, 2)):
        sub = await make_subscription(tenant=world.tenant, customer=world.customer, plan=plan)
        from db.invoice_models import Invoice

        invoice = await Invoice.get(subscription_id=sub.id)
        await record_payment(
            world.admin,
            {"invoice_id": invoice.public_id, "method": "cash", "reference": "sub"},
        )
    for work, reads in ((one, 3), (two, 1)):
        await RoyaltyRead.create(
            tenant_id=world.tenant.id,
            work_id=work.id,
            count=reads,
            occurred_at=utc(2026, 10, 5),
            request_id=f"r-{work.code}",
            created_at=utc(2026, 10, 5),
        )
    await world.run("2026-10")
    assert (await world.statement(ada, "2026-10")).earnings_minor == 11250
    bob_statement = await world.statement(bob, "2026-10")
    assert (bob_statement.earnings_minor, bob_statement.status) == (3750, "carried")
    assert bob_statement.document["lines"][0]["kind"] == "SUBSCRIPTION_READ"


async def test_an_advance_of_1000_eur_is_earned_out_in_the_third_period(
    world: RoyaltyWorld,
) -> None:
    # Worked case: 1,000.00 EUR advanced; 50 % of 800.00 EUR of sales a month earns
    # 400.00: August recoups 400 (600 left), September 400 (200 left), October the
    # last 200 and pays the other 200.
    author = await world.payee("Ada")
    book = await world.work("book", {author: "100"}, rules={"SALE": {"rate": "50"}})
    payee = await Payee.get(id=author.id)
    await ledger.post(payee, [ledger.Posting("advance", advance_minor=100000)], at=utc(2026, 7, 1))
    for month in (8, 9, 10):
        await world.sell(book, 80000, utc(2026, month, 15))
    for period in ("2026-08", "2026-09", "2026-10"):
        await world.run(period)
    got = [figures(await world.statement(author, p)) for p in ("2026-08", "2026-09", "2026-10")]
    assert [(g["recouped"], g["advance_left"], g["payable"], g["status"]) for g in got] == [
        (40000, 60000, 0, "carried"),
        (40000, 20000, 0, "carried"),
        (20000, 0, 20000, "draft"),
    ]
    payee = await Payee.get(id=author.id)
    assert (payee.advance_minor, payee.balance_minor) == (0, 20000)
    await _ledger_ok(world)


async def test_a_twenty_percent_reserve_is_withheld_then_released(world: RoyaltyWorld) -> None:
    # Worked case: a 20 % reserve released after 2 periods. August: 1,000.00 EUR of
    # sales at 70 % earn 700.00, 140.00 withheld, 560.00 payable. October: the 140.00
    # is released and paid (above the 100.00 threshold).
    author = await world.payee("Ada")
    book = await world.work("book", {author: "100"}, reserve={"percent": "20", "releaseAfter": 2})
    await world.sell(book, 100000, utc(2026, 8, 20))
    for period in ("2026-08", "2026-09", "2026-10"):
        await world.run(period)
    august = figures(await world.statement(author, "2026-08"))
    assert (august["earnings"], august["withheld"], august["payable"]) == (70000, 14000, 56000)
    september = await world.statement(author, "2026-09")
    assert (september.opening_minor, september.payable_minor) == (0, 0)
    october = figures(await world.statement(author, "2026-10"))
    assert (october["released"], october["payable"], october["status"]) == (14000, 14000, "draft")
    payee = await Payee.get(id=author.id)
    assert (payee.reserve_minor, payee.balance_minor) == (0, 70000)
    await _ledger_ok(world)


async def test_a_refund_after_the_statement_was_paid_is_recovered_next_period(
    world: RoyaltyWorld,
) -> None:
    # Worked case: August's 200.00 EUR sale earns 140.00, paid out. September: the sale
    # is refunded in full, 140.00 is clawed back: the balance is -140.00, carried.
    # October: a 400.00 EUR sale earns 280.00; 140.00 recovers the debt, 140.00 paid.
    author = await world.payee("Ada")
    book = await world.work("book", {author: "100"})
    sold = await world.sell(book, 20000, utc(2026, 8, 5))
    await world.run("2026-08")
    await world.pay(await world.statement(author, "2026-08"))
    await world.refund(sold, utc(2026, 9, 9))
    await world.sell(book, 40000, utc(2026, 10, 9))
    await world.run("2026-09")
    september = figures(await world.statement(author, "2026-09"))
    assert (september["returns"], september["closing"], september["status"]) == (
        14000,
        -14000,
        "carried",
    )
    await world.run("2026-10")
    october = figures(await world.statement(author, "2026-10"))
    assert (october["opening"], october["earnings"], october["payable"]) == (-14000, 28000, 14000)
    returned = await RoyaltyEarning.filter(payee_id=author.id, movement="return")
    assert sum(r.amount_minor for r in returned) == 14000  # never more than was earned
    await _ledger_ok(world)


async def test_conversions_into_xof_and_dzd_are_shown(world: RoyaltyWorld) -> None:
    # Worked case: EUR earnings paid in XOF and in DZD at the rates recorded for the
    # period. 70 % of 100.00 EUR is 70.00 EUR: at 655.957 it is 45,916.99 → 45,917 XOF
    # (no minor unit); at 145.6789 it is 10,197.523 → 10,197.52 DZD. The 100.00 EUR
    # threshold converts too: 65,596 XOF and 14,567.89 DZD, so both are carried.
    dakar = await world.payee("Awa", "XOF")
    algiers = await world.payee("Karim", "DZD")
    book = await world.work("book", {dakar: "50", algiers: "50"})
    await world.sell(book, 20000, utc(2026, 10, 1))
    with pytest.raises(ValidationError) as missing:
        await world.run("2026-10")
    assert missing.value.code == "MISSING_EXCHANGE_RATE"
    assert "EUR → DZD" in str(missing.value) and "EUR → XOF" in str(missing.value)
    assert await RoyaltyStatement.filter(tenant_id=world.tenant.id).count() == 0
    # Refused before anything was written, the run let its claim go: the rates can
    # be recorded now (set_exchange_rates refuses a period whose run has started).
    await set_exchange_rates(
        world.admin,
        "2026-10",
        [
            {"fromCurrency": "EUR", "toCurrency": "XOF", "rate": "655.957"},
            {"fromCurrency": "EUR", "toCurrency": "DZD", "rate": "145.6789"},
        ],
    )
    await world.run("2026-10")
    xof = await world.statement(dakar, "2026-10")
    assert xof.document["conversions"] == [
        {
            "fromCurrency": "EUR",
            "fromMinor": 7000,
            "rate": "655.957",
            "toCurrency": "XOF",
            "toMinor": 45917,
        }
    ]
    assert (xof.currency, xof.earnings_minor, xof.status) == ("XOF", 45917, "carried")
    dzd = await world.statement(algiers, "2026-10")
    assert (dzd.currency, dzd.earnings_minor) == ("DZD", 1019752)
    assert dzd.document["conversions"][0]["rate"] == "145.6789"


async def test_a_rerun_does_nothing_and_periods_run_in_order(world: RoyaltyWorld) -> None:
    author = await world.payee("Ada")
    book = await world.work("book", {author: "100"})
    await world.sell(book, 20000, utc(2026, 10, 3))
    first = await world.run("2026-10")
    again = await world.run("2026-10")
    assert (first.already_complete, again.already_complete) == (False, True)
    assert (again.payees, again.statements_created) == (1, 0)
    assert await RoyaltyStatement.filter(payee_id=author.id).count() == 1
    with pytest.raises(ValidationError) as closed:
        await world.run("2026-09")
    assert closed.value.code == "PERIOD_CLOSED"
    with pytest.raises(ValidationError) as early:
        await world.run("2099-01")
    assert early.value.code == "PERIOD_NOT_ENDED"


async def test_two_concurrent_runs_write_each_statement_once(world: RoyaltyWorld) -> None:
    payees = [await world.payee(f"Author {i}") for i in range(6)]
    for i, payee in enumerate(payees):
        book = await world.work(f"book-{i}", {payee: "100"})
        await world.sell(book, 20000 + i * 100, utc(2026, 10, 3))
    reports = await asyncio.gather(world.run("2026-10"), world.run("2026-10"))
    assert sum(r.statements_created for r in reports) == 6
    assert await RoyaltyStatement.filter(tenant_id=world.tenant.id).count() == 6
    run = await RoyaltyRun.get(tenant_id=world.tenant.id, period="2026-10")
    assert (run.status, run.statements) == ("completed", 6)
    for payee in payees:
        assert (await Payee.get(id=payee.id)).balance_minor == (
            await world.statement(payee, "2026-10")
        ).payable_minor
    await _ledger_ok(world)


async def test_a_run_that_crashed_between_statements_and_completion_resumes_once(
    world: RoyaltyWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    payees = [await world.payee(f"Author {i}") for i in range(3)]
    for i, payee in enumerate(payees):
        book = await world.work(f"book-{i}", {payee: "100"})
        await world.sell(book, 30000, utc(2026, 10, 3))
    monkeypatch.setattr(royalty_run, "BATCH", 1)

    def crash(done: int, total: int) -> None:
        if done == 2:  # after the second batch (0 is the start)
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        await royalty_run.run_period(
            world.tenant.id, RoyaltyPeriod.parse("2026-10"), progress=crash
        )
    assert await RoyaltyStatement.filter(tenant_id=world.tenant.id).count() == 2
    run = await RoyaltyRun.get(tenant_id=world.tenant.id, period="2026-10")
    assert run.status == "running"
    report = await world.run("2026-10")
    assert (report.already_complete, report.statements_created) == (False, 1)
    assert await RoyaltyStatement.filter(tenant_id=world.tenant.id).count() == 3
    for payee in payees:
        assert (await Payee.get(id=payee.id)).balance_minor == 21000
    await _ledger_ok(world)


async def test_months_run_in_order_none_skipped_and_a_crashed_one_first(
    world: RoyaltyWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A month never run would lose its sales, and its reserves would never be released.
    author = await world.payee("Ada")
    book = await world.work("book", {author: "100"})
    await world.sell(book, 20000, utc(2026, 8, 3))
    await world.sell(book, 20000, utc(2026, 9, 3))
    await world.run("2026-08")
    with pytest.raises(ValidationError) as skipped:
        await world.run("2026-10")
    assert skipped.value.code == "PERIOD_CLOSED" and "2026-09" in str(skipped.value)

    def crash(done: int, total: int) -> None:
        if done:  # after the first batch
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        await royalty_run.run_period(
            world.tenant.id, RoyaltyPeriod.parse("2026-09"), progress=crash
        )
    with pytest.raises(ValidationError) as unfinished:
        await world.run("2026-10")
    assert unfinished.value.code == "RUN_IN_PROGRESS"
    assert (await world.run("2026-09")).already_complete is False  # resumed
    await world.run("2026-10")
    assert await RoyaltyStatement.filter(payee_id=author.id).count() == 3


async def test_what_feeds_a_period_is_frozen_once_its_run_has_started(
    world: RoyaltyWorld,
) -> None:
    # Adjustments, reads and rates of a period whose run has started would be read by
    # no statement (or only by the payees a resumed run writes last): refused.
    from domain.royalties.adjustments import record_adjustment
    from domain.royalties.contracts import update_contract
    from domain.royalties.rates import set_exchange_rates
    from domain.royalties.reads import record_reads

    author = await world.payee("Ada")
    book = await world.work("book", {author: "100"})
    await record_adjustment(world.admin, author.public_id, 5000, "EUR", "bonus", "2026-10")
    async with in_transaction():
        await period_guard.claim(world.tenant.id, RoyaltyPeriod.parse("2026-10"))
    for late in (
        record_adjustment(world.admin, author.public_id, 700, "EUR", "late", "2026-10"),
        set_exchange_rates(
            world.admin, "2026-10", [{"fromCurrency": "EUR", "toCurrency": "XOF", "rate": "655"}]
        ),
    ):
        with pytest.raises(ValidationError) as closed:
            await late
        assert closed.value.code == "PERIOD_CLOSED"
    report = await record_reads(
        world.admin,
        [{"requestId": "r1", "workId": book.public_id, "occurredAt": utc(2026, 10, 9)}],
    )
    assert report.outcomes[0].error.code == "PERIOD_CLOSED"
    contract = await Contract.get(work_id=book.id, payee_id=author.id)
    with pytest.raises(ValidationError) as running:
        await update_contract(world.admin, contract.public_id, {"rules": {"SALE": {"rate": "1"}}})
    assert running.value.code == "RUN_IN_PROGRESS"
    await world.run("2026-10")
    october = await world.statement(author, "2026-10")
    assert (october.adjustments_minor, october.document["adjustments"][0]["reason"]) == (
        5000,
        "bonus",
    )


async def test_a_licence_credited_before_it_was_earned_earns_nothing(world: RoyaltyWorld) -> None:
    author = await world.payee("Ada")
    rules = {"LICENSE": {"flatFee": {"EUR": 50000}}}
    book = await world.work("book", {author: "100"}, rules=rules)
    with clock.frozen_at(utc(2026, 10, 2)):
        licence = await create_invoice(
            world.admin,
            {
                "customer_id": world.customer.public_id,
                "currency": "EUR",
                "finalize": True,
                "items": [
                    {
                        "description": "Licence",
                        "unit_price": {"currency": "EUR", "amount_minor": 60000},
                        "work_id": book.public_id,
                        "work_use": "LICENSE",
                    }
                ],
            },
        )
    await world.refund(licence, utc(2026, 10, 5))  # credited in full: "paid" by the note
    await world.sell(book, 1000, utc(2026, 10, 6))  # a sale: no SALE rule, nothing
    await world.run("2026-10")
    october = await world.statement(author, "2026-10")
    assert (october.earnings_minor, october.payable_minor) == (0, 0)
