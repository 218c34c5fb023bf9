"""The one-statement path and the locked path decide alike and write alike.

Random wallets (balance, holds, usage and its day, blocks, auto-block), terms
(daily limit, low-balance threshold, auto-block setting, delinquency blocking) and
standings (good, a failed payment, an overdue invoice) are set on two twin
customers. One consumes as production does on PostgreSQL: with its terms cached
from a moment when everything was fine, so the cached `decide` says yes and the
one statement alone judges the current row; the other is forced down the locked
path. Both must give the same outcome and leave the same ledger rows, wallet and
`credits.low` events; and the statement must have written exactly when the
guards, evaluated in Python on the current row, say it may.

The one-statement path exists only on PostgreSQL: on SQLite the test is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from db import raw
from db.credit_models import CreditEntry, CreditLot, CreditWallet
from db.invoice_models import Invoice
from db.models import Customer, Tenant
from db.payment_models import WebhookEvent
from domain import clock
from domain.credits import accounts, consume, fast_consume, rules
from domain.ids import new_id
from domain.tenancy.access import Principal, Role
from tests.domain.credits.conftest import postgres_only
from tests.factories import make_customer, make_plan, make_subscription, make_tenant

FEATURES = ["rag", "legal", "voice"]  # "fiscal" has a cost but is not in the plan
BENIGN = 1_000_000  # the balance the terms are cached with


@dataclass(frozen=True)
class Case:
    timezone: str
    module: str
    quantity: int
    balance: int
    reserved: int
    used_today: int
    usage_day: int | None  # days from the customer's today; None: never used
    daily_limit: int | None
    blocked: bool
    auto_blocked: bool
    standing: str  # good | failed | overdue
    blocks_delinquent: bool
    low_threshold: int | None
    auto_block: bool
    due: int | None  # minutes from now to the wallet's next event; None: nothing


def _mostly(value: Any, *others: Any) -> st.SearchStrategy[Any]:
    """`value` about four times in five, so that allowed consumptions are common."""
    return st.sampled_from([value] * 4 * len(others) + list(others))


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """Random cases, half of them on the edges where a guard flips: the balance
    just covering the cost (enough credits, auto-block), the threshold just
    crossed or not, the daily limit just reached."""
    module = draw(st.sampled_from([*FEATURES, *FEATURES, "fiscal"]))
    quantity = draw(st.integers(1, 4))
    cost = rules.DEFAULT_COSTS[module] * quantity
    reserved = draw(_mostly(0, 3, 12, 40))
    edge = draw(st.one_of(st.none(), st.integers(-1, 1)))
    balance = draw(st.integers(0, 60)) if edge is None else max(0, reserved + cost + edge)
    used_today = draw(st.integers(0, 25))
    near = st.integers(-1, 2)
    return Case(
        timezone=draw(st.sampled_from(["UTC", "Pacific/Kiritimati", "America/Los_Angeles"])),
        module=module,
        quantity=quantity,
        balance=balance,
        reserved=reserved,
        used_today=used_today,
        usage_day=draw(st.sampled_from([0, 0, 1, -1, None])),
        daily_limit=draw(
            st.one_of(
                st.none(),
                st.integers(0, 40),
                near.map(lambda d: max(0, used_today + cost + d)),
            )
        ),
        blocked=draw(_mostly(False, True)),
        auto_blocked=draw(_mostly(False, True)),
        standing=draw(_mostly("good", "failed", "overdue")),
        blocks_delinquent=draw(_mostly(True, False)),
        low_threshold=draw(
            st.one_of(
                st.none(),
                st.integers(0, 40),
                near.map(lambda d: max(0, balance - cost + d)),
            )
        ),
        auto_block=draw(st.booleans()),
        due=draw(st.sampled_from([None, None, -60, 60])),
    )


# Each guard on its own, on the edge, in every run (the random cases come after):
# a guard dropped from either path fails one of these.
PLAIN = Case(
    timezone="UTC",
    module="rag",
    quantity=1,
    balance=20,
    reserved=0,
    used_today=5,
    usage_day=0,
    daily_limit=None,
    blocked=False,
    auto_blocked=False,
    standing="good",
    blocks_delinquent=True,
    low_threshold=None,
    auto_block=False,
    due=None,
)
EDGES = [
    PLAIN,
    replace(PLAIN, module="fiscal"),
    replace(PLAIN, blocked=True),
    replace(PLAIN, auto_blocked=True),
    replace(PLAIN, standing="failed"),
    replace(PLAIN, standing="overdue"),
    replace(PLAIN, standing="overdue", blocks_delinquent=False),
    replace(PLAIN, daily_limit=5),
    replace(PLAIN, daily_limit=6),
    replace(PLAIN, daily_limit=5, usage_day=-1),  # yesterday's usage no longer counts
    replace(PLAIN, daily_limit=5, usage_day=1, timezone="America/Los_Angeles"),
    replace(PLAIN, reserved=20),
    replace(PLAIN, reserved=19),
    replace(PLAIN, due=-60),
    replace(PLAIN, due=60),
    replace(PLAIN, low_threshold=20),
    replace(PLAIN, low_threshold=19),
    replace(PLAIN, auto_block=True, balance=1),
    replace(PLAIN, auto_block=True, balance=2),
]


def _edges(test: Any) -> Any:
    for case in reversed(EDGES):
        test = example(case=case)(test)
    return test


async def _twin(tenant: Tenant, plan: Any, case: Case) -> Customer:
    customer = await make_customer(tenant=tenant, timezone=case.timezone)
    await make_subscription(tenant=tenant, customer=customer, plan=plan)
    now = clock.now()
    await CreditWallet.create(
        tenant_id=tenant.id,
        customer_id=customer.id,
        balance=BENIGN,
        reserved=0,
        consumed_total=0,
        consumed_settled=0,
        usage_day="",
        used_today=0,
        blocked=False,
        auto_blocked=False,
        created_at=now,
        updated_at=now,
    )
    return customer


async def _set_state(customer: Customer, case: Case, now: Any) -> None:
    """The case's wallet and standing, written behind the cached terms' back."""
    usage_day = ""
    if case.usage_day is not None:
        local = now.astimezone(rules.zone(case.timezone)) + timedelta(days=case.usage_day)
        usage_day = local.date().isoformat()
    wallet = await CreditWallet.get(customer_id=customer.id)
    next_event_at = None
    if case.due is not None:
        next_event_at = now + timedelta(minutes=case.due)
        # A promotion expiring then, so a boundary caught up writes an entry.
        await CreditLot.create(
            tenant_id=customer.tenant_id,  # type: ignore[attr-defined]
            wallet_id=wallet.id,
            kind="promotion",
            amount=5,
            remaining=min(5, case.balance),
            expires_at=next_event_at,
            created_at=now - timedelta(days=1),
        )
    await CreditWallet.filter(id=wallet.id).update(
        balance=case.balance,
        reserved=case.reserved,
        used_today=case.used_today,
        usage_day=usage_day,
        blocked=case.blocked,
        auto_blocked=case.auto_blocked,
        next_event_at=next_event_at,
    )
    if case.standing != "good":
        await Customer.filter(id=customer.id).update(delinquent=True)
    if case.standing == "overdue":
        await Invoice.create(
            public_id=new_id("invoice"),
            tenant_id=customer.tenant_id,  # type: ignore[attr-defined]
            customer_id=customer.id,
            status="uncollectible",
            billing_reason="manual",
            currency="EUR",
            created_at=now,
            updated_at=now,
        )


async def _rows(tenant_id: int, customer: Customer) -> tuple[Any, ...]:
    entries = await CreditEntry.filter(customer_id=customer.id).order_by("id")
    wallet = await CreditWallet.get(customer_id=customer.id)
    low = await WebhookEvent.filter(type="credits.low", tenant_id=tenant_id)
    return (
        [
            (
                e.kind,
                e.amount,
                e.balance_after,
                e.module,
                e.action,
                e.quantity,
                e.request_id is not None,  # request ids are the tenant's: the twins differ
                e.remaining_today,
                e.local_day,
                e.metadata,
                e.created_at,
            )
            for e in entries
        ],
        (
            wallet.balance,
            wallet.reserved,
            wallet.used_today,
            wallet.usage_day,
            wallet.consumed_total,
            wallet.blocked,
            wallet.auto_blocked,
            wallet.next_event_at,
        ),
        sorted(e.payload["data"]["balance"] for e in low if _of(e, customer)),
    )


def _of(event: Any, customer: Customer) -> bool:
    return bool(event.payload["data"]["customer"] == customer.public_id)


def _python_says_plain(account: accounts.Account, case: Case, now: Any) -> bool:
    """What the guards say in Python on the current row: may the statement write?"""
    try:
        decision = account.decide(case.module, case.quantity, plain_at=now)
    except Exception:
        return False
    return decision.plain


@postgres_only
@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
@_edges
async def test_both_paths_decide_and_write_alike(
    db: str, monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    assert raw.is_postgres(CreditEntry._meta.db), "this test must run on PostgreSQL"
    tenant = await make_tenant()
    await Tenant.filter(id=tenant.id).update(
        credit_settings={"low_threshold": case.low_threshold, "auto_block": case.auto_block},
        dunning={"block_credits_when_delinquent": case.blocks_delinquent},
    )
    plan = await make_plan(
        tenant=tenant, features=FEATURES, daily_credit_limit=case.daily_limit, trial_days=30
    )
    fast, locked = [await _twin(tenant, plan, case) for _ in range(2)]
    try:
        await _consume_on_both(monkeypatch, tenant, fast, locked, case)
    finally:
        await _forget([fast, locked])


async def _forget(customers: list[Customer]) -> None:
    """The twins' credit rows go: their balances were set behind the ledger's back,
    which the suite's ledger checks (and sweeps) would otherwise find."""
    ids = [c.id for c in customers]
    wallets = await CreditWallet.filter(customer_id__in=ids).values_list("id", flat=True)
    await CreditEntry.filter(wallet_id__in=wallets).delete()
    await CreditLot.filter(wallet_id__in=wallets).delete()
    await CreditWallet.filter(id__in=wallets).delete()
    await Invoice.filter(customer_id__in=ids, billing_reason="manual").delete()
    accounts.forget_terms()


async def _consume_on_both(
    monkeypatch: pytest.MonkeyPatch, tenant: Tenant, fast: Customer, locked: Customer, case: Case
) -> None:
    service = Principal(tenant.id, Role.SERVICE, 0)
    accounts.forget_terms()
    # The fast twin's terms, cached while all was well (as another request left them).
    cached = await accounts.load_account(tenant.id, fast.public_id)
    assert accounts.cached_terms(tenant.id, fast.public_id) is cached

    at = clock.FixedClock(clock.now())
    now = at.now()
    for customer in (fast, locked):
        await _set_state(customer, case, now)
    with clock.using_clock(at):
        # The guards in Python on the current row (the twins' rows are alike).
        expected_fast = _python_says_plain(
            await accounts.load_account(tenant.id, locked.public_id), case, now
        )

    wrote: list[bool] = []
    one_statement = fast_consume._one_statement

    async def spy(*args: Any) -> Any:
        done = await one_statement(*args)
        wrote.append(done is not None)
        return done

    async def no_row(*args: Any) -> None:
        return None  # what the statement answers when the case is not plain

    outcomes = []
    with clock.using_clock(at):
        for customer, statement in ((fast, spy), (locked, no_row)):
            monkeypatch.setattr(fast_consume, "_one_statement", statement)
            req = consume.ConsumeRequest(
                customer.public_id, case.module, "ask", case.quantity, customer.public_id, {"n": 1}
            )
            try:
                out = await consume.consume_credits(service, req)
                outcomes.append(
                    (out.consumed, out.refusal, out.cost, out.balance, out.remaining_today)
                )
            except Exception as exc:  # an unknown module, say: the same error on both
                outcomes.append((type(exc).__name__, getattr(exc, "code", None)))
            monkeypatch.undo()

    assert outcomes[0] == outcomes[1], case
    event("one statement" if expected_fast else f"locked path: {outcomes[1][:2]}")
    fast_rows, locked_rows = await _rows(tenant.id, fast), await _rows(tenant.id, locked)
    assert fast_rows == locked_rows, case
    # The statement wrote exactly when the guards in Python say it may.
    assert any(wrote) == expected_fast, (case, wrote)
    if expected_fast:
        assert wrote[0], "the cached terms' decision should have let the statement judge"
