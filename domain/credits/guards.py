"""The guards of a consumption, each declared once: its Python predicate beside
its SQL fragment.

`rules.decide` evaluates the predicates (the locked path, checks, reservations,
and every consumption before it tries the one statement); `fast_consume.py` builds
the WHERE clause of its one statement from the fragments, once, at import. A guard
added here is therefore checked on both paths, and a test on PostgreSQL holds the
two to the same decisions and rows (tests/domain/credits/test_guard_parity.py).

Two kinds of guard:

- **refusals**, in the order a support agent would explain them (plan, block,
  payment, daily cap, balance): the first that fails is the answer;
- **locked-path guards**, which refuse nothing: they fail when the consumption
  needs what only the locked path does (catch up an expiry or allowance boundary,
  write a `credits.low` event, set the auto-block). The one statement then matches
  nothing and the locked path runs.

A fragment is true when its guard holds, over the `credit_wallet` row being
updated, with named parameters (`{cost}`, `{day}`, `{now}`, `{daily_limit}`,
`{low_threshold}`, `{auto_block}`, `{customer_id}`, `{blocks_delinquent}`) that
`fast_consume` numbers. A guard without a fragment reads only the customer's terms
(plan, costs, settings), never the wallet or the customer's standing: `decide` on
the terms (cached ones included) is then the whole check.

Pure: no I/O, no clock reads.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


class Refusal(enum.StrEnum):
    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
    DAILY_LIMIT_REACHED = "DAILY_LIMIT_REACHED"
    MODULE_NOT_IN_PLAN = "MODULE_NOT_IN_PLAN"
    CUSTOMER_BLOCKED = "CUSTOMER_BLOCKED"
    PAYMENT_OVERDUE = "PAYMENT_OVERDUE"  # an invoice is past its due date (or written off)
    PAYMENT_FAILED = "PAYMENT_FAILED"  # a payment failed; the invoice is not yet overdue


# The usage-day rollover. Why the counter's date never goes back: a customer moving
# to a time zone where it is still yesterday (Pacific/Kiritimati -> Pacific/Pago_Pago
# is 25 hours) would otherwise open a fresh day. A move itself carries the usage over
# to the new zone's date (wallets.carry_day_over); this rule keeps a consumption that
# still reads the old zone after a move east (in flight, or another process's terms
# cached for TERMS_SECONDS) counting under the carried date rather than restarting
# an earlier one. ISO dates ('YYYY-MM-DD') compare as strings (the "C" collation in
# SQL); '' (never used) is below every date.


def counts_on(usage_day: str, today: str) -> bool:
    """Does usage counted on `usage_day` still count against `today`'s limit?"""
    return usage_day >= today


def counting_day(usage_day: str, today: str) -> str:
    """The date a consumption made `today` counts under: the later of the two."""
    return usage_day if usage_day > today else today


def used_on(usage_day: str, used_today: int, day: str) -> int:
    """The wallet's usage that counts against `day`'s limit."""
    return used_today if counts_on(usage_day, day) else 0


# The SQL twins of `used_on` and `counting_day`, over the wallet row.
USED_ON_DAY_SQL = '(CASE WHEN usage_day COLLATE "C" >= {day} THEN used_today ELSE 0 END)'
COUNTING_DAY_SQL = 'GREATEST(usage_day COLLATE "C", {day})'


def crosses_low(before: int, after: int, threshold: int | None) -> bool:
    """A balance going from `before` to `after` crosses the low-balance threshold
    (one `credits.low` event, written by the ledger in the same transaction)."""
    return threshold is not None and before >= threshold > after


def exhausts(balance: int, reserved: int) -> bool:
    """Nothing left to spend: with auto-block on, a debit to here blocks the wallet."""
    return balance - reserved <= 0


def nothing_due(next_event_at: datetime | None, now: datetime) -> bool:
    """No lot expiry or allowance boundary has passed (else: catch up first)."""
    return next_event_at is None or next_event_at > now


@dataclass(slots=True)  # not frozen: a frozen __init__ costs 5 µs, per item of a batch
class Facts:
    """What the guards look at: the wallet, the terms, the request (read-only)."""

    balance: int
    reserved: int
    used: int  # the usage counting against the consumption's day (`used_on`)
    blocked: bool
    auto_blocked: bool
    modules: frozenset[str]
    daily_limit: int | None  # None: unlimited
    module: str
    cost: int
    payment_overdue: bool  # delinquent, and the tenant blocks credits for that
    standing: Refusal = Refusal.PAYMENT_OVERDUE  # what a payment block is called
    # For the locked-path guards only.
    low_threshold: int | None = None
    auto_block: bool = False
    next_event_at: datetime | None = None
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class Guard:
    name: str
    holds: Callable[[Facts], bool]
    sql: str | None  # true when it holds; None: it reads only the terms (see above)
    refusal: Refusal | None = None  # None: a locked-path guard
    named_by_standing: bool = False  # refused as the customer's invoices name it

    def refusal_for(self, facts: Facts) -> Refusal:
        if self.named_by_standing:
            return facts.standing
        assert self.refusal is not None
        return self.refusal


def _in_plan(f: Facts) -> bool:
    return f.module in f.modules


def _not_blocked(f: Facts) -> bool:
    return not (f.blocked or f.auto_blocked)


def _good_standing(f: Facts) -> bool:
    return not f.payment_overdue


def _within_daily_limit(f: Facts) -> bool:
    return f.daily_limit is None or f.used + f.cost <= f.daily_limit


def _enough_credits(f: Facts) -> bool:
    return f.cost <= f.balance - f.reserved


def _nothing_due(f: Facts) -> bool:
    return f.now is not None and nothing_due(f.next_event_at, f.now)


def _no_low_crossing(f: Facts) -> bool:
    return not crosses_low(f.balance, f.balance - f.cost, f.low_threshold)


def _no_auto_block(f: Facts) -> bool:
    return not (f.auto_block and exhausts(f.balance - f.cost, f.reserved))


REFUSALS: tuple[Guard, ...] = (
    Guard("module in the plan", _in_plan, None, Refusal.MODULE_NOT_IN_PLAN),
    Guard(
        "not blocked",
        _not_blocked,
        "NOT blocked AND NOT auto_blocked",
        Refusal.CUSTOMER_BLOCKED,
    ),
    Guard(
        "in good standing",
        _good_standing,
        # The standing is read from the customer row, fresh, in the same statement.
        "NOT ({blocks_delinquent}::boolean"
        " AND EXISTS (SELECT 1 FROM customer WHERE id = {customer_id} AND delinquent))",
        Refusal.PAYMENT_OVERDUE,
        named_by_standing=True,
    ),
    Guard(
        "within the daily limit",
        _within_daily_limit,
        "({daily_limit}::bigint IS NULL OR "
        + USED_ON_DAY_SQL
        + " + {cost} <= {daily_limit}::bigint)",
        Refusal.DAILY_LIMIT_REACHED,
    ),
    Guard(
        "enough credits available",
        _enough_credits,
        "balance - reserved >= {cost}",
        Refusal.INSUFFICIENT_CREDITS,
    ),
)

LOCKED_PATH: tuple[Guard, ...] = (
    Guard("nothing due", _nothing_due, "(next_event_at IS NULL OR next_event_at > {now})"),
    Guard(
        "no low-balance crossing",
        _no_low_crossing,
        "({low_threshold}::bigint IS NULL OR balance - {cost} >= {low_threshold}::bigint"
        " OR balance < {low_threshold}::bigint)",
    ),
    Guard(
        "no auto-block",
        _no_auto_block,
        "(NOT {auto_block}::boolean OR balance - reserved - {cost} > 0)",
    ),
)

GUARDS: tuple[Guard, ...] = REFUSALS + LOCKED_PATH


def first_refusal(facts: Facts) -> Refusal | None:
    """The first refusal guard that fails, named; None when all hold."""
    for guard in REFUSALS:
        if not guard.holds(facts):
            return guard.refusal_for(facts)
    return None


def one_statement_may_write(facts: Facts) -> bool:
    """Every guard holds, the locked-path ones included (they need `facts.now`)."""
    return all(guard.holds(facts) for guard in GUARDS)
