"""The credit rules, as pure functions: what a module costs, whether a customer
may spend it now, the day it counts against, which lots a consumption draws
from, and what rolls over. No I/O and no clock reads: the callers pass `now`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from domain.credits import guards
from domain.credits.guards import Refusal as Refusal
from domain.credits.guards import counting_day as counting_day
from domain.credits.guards import counts_on as counts_on
from domain.errors import ValidationError

DEFAULT_COSTS: dict[str, int] = {"rag": 1, "legal": 3, "fiscal": 3, "voice": 2, "park": 2, "api": 1}
MAX_QUANTITY = 1_000_000


class UnknownModule(ValidationError):
    code = "UNKNOWN_MODULE"


@dataclass(frozen=True, slots=True)
class CreditSettings:
    """A tenant's credit configuration (`tenant.credit_settings`, null = defaults)."""

    costs: Mapping[str, int]
    low_threshold: int | None = None  # `credits.low` when a balance drops below it
    auto_block: bool = False  # block an exhausted wallet, unblock on top-up
    unit_prices: Mapping[str, int] | None = None  # top-up price per credit, minor units
    # The daily limit resets at the customer's local midnight, so by default only the
    # tenant (admin key) sets a customer's time zone, not the customer's own token.
    customers_may_change_timezone: bool = False

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> CreditSettings:
        stored = stored or {}
        return cls(
            costs=stored.get("costs") or DEFAULT_COSTS,
            low_threshold=stored.get("low_threshold"),
            auto_block=bool(stored.get("auto_block", False)),
            unit_prices=stored.get("unit_prices") or {},
            customers_may_change_timezone=bool(stored.get("customers_may_change_timezone", False)),
        )


@dataclass(frozen=True, slots=True)
class PlanTerms:
    features: Sequence[str]
    daily_limit: int | None  # None: unlimited
    costs: Mapping[str, int] | None


@dataclass(frozen=True, slots=True)
class Entitlements:
    modules: frozenset[str]
    costs: Mapping[str, int]
    daily_limit: int | None  # None: unlimited (or no plan at all)
    has_plan: bool


def entitlements(settings: CreditSettings, plans: Sequence[PlanTerms]) -> Entitlements:
    """What a customer's live subscriptions allow. With several, the most generous
    term wins: the union of modules, the lowest cost, the highest daily limit."""
    base = dict(settings.costs)
    costs = dict(base)
    if plans:  # each plan's own price of a module (its override, else the tenant's)
        costs = {m: min((p.costs or {}).get(m, c) for p in plans) for m, c in base.items()}
    modules: set[str] = set()
    limits: list[int | None] = []
    for plan in plans:
        modules.update(m for m in plan.features if m in base)
        limits.append(plan.daily_limit)
    limit = None if not limits or None in limits else max(x for x in limits if x is not None)
    return Entitlements(frozenset(modules), costs, limit, bool(plans))


@dataclass(frozen=True, slots=True)
class WalletState:
    balance: int = 0
    reserved: int = 0
    usage_day: str = ""
    used_today: int = 0
    blocked: bool = False
    auto_blocked: bool = False

    @property
    def available(self) -> int:
        return self.balance - self.reserved

    def used_on(self, day: str) -> int:
        return guards.used_on(self.usage_day, self.used_today, day)


@dataclass(frozen=True, slots=True)
class Decision:
    cost: int
    refusal: Refusal | None
    balance_after: int  # the balance if it proceeds (the current one if not)
    remaining_today: int | None  # after it, None when unlimited
    # Allowed, and nothing only the locked path does is due (decided with `now`):
    # the one statement may write it.
    plain: bool = False

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def module_costs(items: Sequence[Mapping[str, Any]], *, field: str) -> dict[str, int]:
    """[{module, credits}] as a module → cost map (tenant settings, plan overrides)."""
    from domain.validation import feature_codes

    costs: dict[str, int] = {}
    for item in items:
        module = feature_codes([item.get("module", "")], field=field)[0]
        cost = item.get("credits")
        if not isinstance(cost, int) or isinstance(cost, bool) or not 0 < cost <= MAX_QUANTITY:
            raise ValidationError(f"a module costs 1-{MAX_QUANTITY:,} credits", field=field)
        costs[module] = cost
    return costs


def quantity(value: int, *, field: str = "quantity") -> int:
    if not isinstance(value, int) or value <= 0:
        raise ValidationError("quantity must be a positive whole number", field=field)
    if value > MAX_QUANTITY:
        raise ValidationError(f"quantity must be at most {MAX_QUANTITY:,}", field=field)
    return value


def cost_of(ent: Entitlements, module: str, qty: int) -> int:
    unit = ent.costs.get(module)
    if unit is None:
        known = ", ".join(sorted(ent.costs))
        raise UnknownModule(f"unknown module {module!r} (known: {known})", field="module")
    return unit * quantity(qty)


def decide(
    wallet: WalletState,
    ent: Entitlements,
    module: str,
    qty: int,
    day: str,
    *,
    payment_overdue: bool,
    standing: Refusal = Refusal.PAYMENT_OVERDUE,
    settings: CreditSettings | None = None,
    next_event_at: datetime | None = None,
    now: datetime | None = None,
) -> Decision:
    """May this consumption proceed? The first refusal guard that fails
    (domain/credits/guards.py), in the order a support agent would explain it:
    plan, block, payment, daily cap, balance. `payment_overdue` is the customer's
    delinquency (when the tenant blocks for it); `standing` names it as the
    customer's invoices do (PAYMENT_OVERDUE only when one is past due,
    PAYMENT_FAILED when a payment failed before that). Given `now` (and the
    tenant's `settings` and the wallet's `next_event_at`), it also says whether the
    one statement may write it (`Decision.plain`)."""
    cost = cost_of(ent, module, qty)
    used = guards.used_on(wallet.usage_day, wallet.used_today, day)
    facts = guards.Facts(
        wallet.balance,
        wallet.reserved,
        used,
        wallet.blocked,
        wallet.auto_blocked,
        ent.modules,
        ent.daily_limit,
        module,
        cost,
        payment_overdue,
        standing,
        settings.low_threshold if settings is not None else None,
        settings.auto_block if settings is not None else False,
        next_event_at,
        now,
    )
    remaining = None if ent.daily_limit is None else ent.daily_limit - used
    refusal = guards.first_refusal(facts)
    if refusal is not None:
        return Decision(cost, refusal, wallet.balance, remaining)
    plain = now is not None and all(guard.holds(facts) for guard in guards.LOCKED_PATH)
    return Decision(
        cost,
        None,
        wallet.balance - cost,
        None if remaining is None else remaining - cost,
        plain,
    )


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(now: datetime, tz: str) -> str:
    """The customer's calendar date at `now`: the key daily limits count under."""
    return now.astimezone(zone(tz)).date().isoformat()


def next_reset(now: datetime, tz: str, usage_day: str = "") -> datetime:
    """When the daily counter starts again from zero: the customer's next local
    midnight, or, while usage is carried on a date its zone has not reached yet,
    the midnight that ends that date."""
    today = local_day(now, tz)
    if usage_day <= today:
        return next_local_midnight(now, tz)
    carried = datetime.fromisoformat(usage_day) + timedelta(days=1)
    return datetime(carried.year, carried.month, carried.day, tzinfo=zone(tz))


def next_local_midnight(now: datetime, tz: str) -> datetime:
    """When the customer's day resets (DST-safe: midnight is built as a wall time)."""
    local = now.astimezone(zone(tz))
    tomorrow = (local + timedelta(days=1)).date()
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone(tz))


def request_digest(customer_id: int, module: str, action: str, qty: int, metadata: Any) -> str:
    """What makes two requests with one requestId "the same input"."""
    body = orjson.dumps([customer_id, module, action, qty, metadata], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(body, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Lot:
    id: int
    remaining: int
    expires_at: datetime | None


def draw_order(lots: Iterable[Lot]) -> list[Lot]:
    """What expires first is spent first; credits that never expire come last."""
    return sorted(lots, key=lambda lot: (lot.expires_at is None, lot.expires_at or 0, lot.id))


def draw(lots: Sequence[Lot], amount: int) -> dict[int, int]:
    """How much of `amount` each lot gives, earliest expiry first. The wallet never
    spends more than its balance, which is the lots' sum, so it always suffices;
    whatever would not fit (only after a manual correction) is left undrawn."""
    takes: dict[int, int] = {}
    for lot in draw_order(lots):
        if amount <= 0:
            break
        take = min(lot.remaining, amount)
        if take > 0:
            takes[lot.id] = take
            amount -= take
    return takes


def rollover(unused: int, cap: int | None) -> tuple[int, int]:
    """(kept, dropped) of a month's unused allowance: up to `cap` carries over,
    the rest resets; with no cap configured nothing carries over."""
    unused = max(unused, 0)
    kept = 0 if cap is None else min(unused, max(cap, 0))
    return kept, unused - kept
