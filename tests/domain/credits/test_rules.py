"""The credit rules as properties: draws, rollover, decisions and days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.credits import rules

AT = datetime(2026, 1, 1, tzinfo=UTC)
lots = st.lists(
    st.tuples(st.integers(0, 10_000), st.one_of(st.none(), st.integers(0, 400))),
    max_size=8,
).map(
    lambda items: [
        rules.Lot(i, remaining, None if days is None else AT + timedelta(days=days))
        for i, (remaining, days) in enumerate(items)
    ]
)


@given(lots, st.integers(0, 100_000))
def test_a_draw_never_takes_more_than_asked_or_held(held: list[rules.Lot], amount: int) -> None:
    takes = rules.draw(held, amount)
    by_id = {lot.id: lot for lot in held}
    assert all(0 < take <= by_id[i].remaining for i, take in takes.items())
    assert sum(takes.values()) == min(amount, sum(lot.remaining for lot in held))


@given(lots, st.integers(1, 100_000))
def test_what_expires_first_is_drawn_first(held: list[rules.Lot], amount: int) -> None:
    takes = rules.draw(held, amount)
    ordered = rules.draw_order(held)
    # Once a lot is not emptied, no later lot gives anything.
    partial = False
    for lot in ordered:
        take = takes.get(lot.id, 0)
        if partial:
            assert take == 0
        if take < lot.remaining:
            partial = True
    assert [x.expires_at is None for x in ordered] == sorted(x.expires_at is None for x in ordered)


@given(st.integers(-5, 10_000), st.one_of(st.none(), st.integers(0, 5_000)))
def test_rollover_splits_the_unused_allowance(unused: int, cap: int | None) -> None:
    kept, dropped = rules.rollover(unused, cap)
    assert kept + dropped == max(unused, 0)
    assert 0 <= kept <= (cap or 0)


wallets = st.builds(
    rules.WalletState,
    balance=st.integers(0, 1_000),
    reserved=st.integers(0, 200),
    usage_day=st.sampled_from(["2026-01-01", "2026-01-02"]),
    used_today=st.integers(0, 300),
    blocked=st.booleans(),
    auto_blocked=st.booleans(),
)


@given(
    wallets,
    st.sampled_from(sorted(rules.DEFAULT_COSTS)),
    st.integers(1, 50),
    st.one_of(st.none(), st.integers(0, 300)),
    st.booleans(),
)
def test_an_allowed_decision_keeps_every_bound(
    wallet: rules.WalletState, module: str, qty: int, limit: int | None, overdue: bool
) -> None:
    plans = [rules.PlanTerms(features=["rag", "legal", "voice"], daily_limit=limit, costs=None)]
    ent = rules.entitlements(rules.CreditSettings.of(None), plans)
    decision = rules.decide(wallet, ent, module, qty, "2026-01-02", payment_overdue=overdue)
    assert decision.cost == rules.DEFAULT_COSTS[module] * qty
    if decision.allowed:
        assert module in ent.modules and not (wallet.blocked or wallet.auto_blocked)
        assert not overdue
        assert decision.balance_after == wallet.balance - decision.cost
        assert decision.balance_after - wallet.reserved >= 0
        if limit is not None:
            assert wallet.used_on("2026-01-02") + decision.cost <= limit
            assert decision.remaining_today == limit - wallet.used_on("2026-01-02") - decision.cost
    else:
        assert decision.balance_after == wallet.balance


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)))
def test_the_next_reset_is_the_next_local_midnight(naive: datetime) -> None:
    now = naive.replace(tzinfo=UTC)
    for tz in ("UTC", "America/New_York", "Pacific/Auckland", "Asia/Kolkata"):
        reset = rules.next_local_midnight(now, tz)
        assert reset > now
        assert rules.local_day(reset, tz) != rules.local_day(now, tz)
        assert reset.astimezone(rules.zone(tz)).time().hour in (0, 1)  # 1: a DST gap at 0:00
        assert rules.local_day(reset - timedelta(microseconds=1), tz) == rules.local_day(now, tz)


def test_the_most_generous_plan_wins() -> None:
    settings = rules.CreditSettings.of(None)
    ent = rules.entitlements(
        settings,
        [
            rules.PlanTerms(["rag"], 10, {"rag": 2}),
            rules.PlanTerms(["legal", "sso"], None, {"legal": 1}),
        ],
    )
    assert ent.modules == {"rag", "legal"}  # sso is a feature, not a module
    assert ent.daily_limit is None and ent.costs["legal"] == 1 and ent.costs["rag"] == 1
