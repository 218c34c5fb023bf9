"""What the credit rules need about a customer, read in one round trip: the
customer (time zone, test clock, standing), its wallet, the plans of its live
subscriptions and the tenant's credit settings."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from tortoise.expressions import Q

from db import raw
from db.credit_models import CreditWallet
from db.invoice_models import Invoice
from domain import clock
from domain.credits import guards, rules
from domain.errors import NotFoundError, ValidationError
from domain.subscriptions.statuses import ENTITLED_STATUSES, sql_list

_CUSTOMER_ID_PREFIX = "cus_"


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


@dataclass(slots=True)
class Account:
    tenant_id: int
    customer_id: int
    customer_public_id: str
    timezone: str
    now: datetime  # the customer's clock (its test clock's time, if any)
    payment_overdue: bool  # delinquent, and the tenant blocks credits for that
    settings: rules.CreditSettings
    ent: rules.Entitlements
    wallet_id: int | None
    state: rules.WalletState
    next_event_at: datetime | None
    test_clock_id: int | None
    blocks_delinquent: bool = True
    plans: list[rules.PlanTerms] = field(default_factory=list)
    # What a payment block is called (read only for delinquent customers).
    standing: rules.Refusal = rules.Refusal.PAYMENT_OVERDUE

    _day: tuple[datetime, str] | None = None

    @property
    def day(self) -> str:
        """The customer's date at `now` (computed once per `now`: a batch asks 1,000 times)."""
        if self._day is None or self._day[0] is not self.now:
            self._day = (self.now, rules.local_day(self.now, self.timezone))
        return self._day[1]

    def due(self) -> bool:
        """A lot expiry or an allowance boundary has passed: catch up first."""
        return not guards.nothing_due(self.next_event_at, self.now)

    def decide(
        self,
        module: str,
        qty: int,
        *,
        wallet: rules.WalletState | None = None,
        day: str | None = None,
        plain_at: datetime | None = None,
    ) -> rules.Decision:
        """`rules.decide` on this customer's terms and standing, for its wallet
        `state` unless a (locked) `wallet` is given, on its `day` unless told.
        With `plain_at`, also whether the one statement may write it at that time."""
        return rules.decide(
            self.state if wallet is None else wallet,
            self.ent,
            module,
            qty,
            self.day if day is None else day,
            payment_overdue=self.payment_overdue,
            standing=self.standing,
            settings=self.settings if plain_at is not None else None,
            next_event_at=self.next_event_at,
            now=plain_at,
        )


_SELECT = f"""
SELECT c.id, c.public_id, c.external_id, c.timezone, c.delinquent, c.test_clock_id,
       tc.frozen_time, t.credit_settings, t.dunning,
       w.id AS wallet_id, w.balance, w.reserved, w.usage_day, w.used_today, w.blocked,
       w.auto_blocked, w.next_event_at,
       p.features, p.daily_credit_limit, p.credit_costs
FROM customer c
JOIN tenant t ON t.id = c.tenant_id
LEFT JOIN test_clock tc ON tc.id = c.test_clock_id
LEFT JOIN credit_wallet w ON w.customer_id = c.id
LEFT JOIN subscription s ON s.customer_id = c.id
     AND s.status IN {sql_list(ENTITLED_STATUSES)}
LEFT JOIN plan p ON p.id = s.plan_id
WHERE c.tenant_id = $1 AND """


def _where(refs: Sequence[str]) -> tuple[str, list[str]]:
    """Customers by public id (`cus_…`) or by the caller's own external id."""
    ids = [r for r in refs if r.startswith(_CUSTOMER_ID_PREFIX)]
    external = [r for r in refs if not r.startswith(_CUSTOMER_ID_PREFIX)]
    parts, params = [], []
    n = 2
    if ids:
        parts.append(f"c.public_id IN ({', '.join(f'${n + i}' for i in range(len(ids)))})")
        params += ids
        n += len(ids)
    if external:
        marks = ", ".join(f"${n + i}" for i in range(len(external)))
        parts.append(f"c.external_id IN ({marks})")
        params += external
    return "(" + " OR ".join(parts) + ")", params


def check_ref(ref: str, *, field_name: str = "customerId") -> str:
    if not isinstance(ref, str) or not 0 < len(ref) <= 128:
        raise ValidationError("give a customer id (cus_…) or external id", field=field_name)
    return ref


async def load_accounts(tenant_id: int, refs: Sequence[str]) -> dict[str, Account]:
    """Accounts by the reference the caller used; unknown references are absent."""
    wanted = sorted(set(refs))
    if not wanted:
        return {}
    where, params = _where(wanted)
    rows = await raw.fetch(CreditWallet, _SELECT + where, [tenant_id, *params])
    accounts: dict[int, Account] = {}
    by_ref: dict[str, Account] = {}
    for row in rows:
        account = accounts.get(row["id"])
        if account is None:
            account = accounts[row["id"]] = _account(tenant_id, row)
            by_ref[row["public_id"]] = account
            if row["external_id"] is not None:
                by_ref[row["external_id"]] = account
        if row["features"] is not None:
            account.plans.append(
                rules.PlanTerms(
                    features=_json(row["features"]) or [],
                    daily_limit=row["daily_credit_limit"],
                    costs=_json(row["credit_costs"]),
                )
            )
    for account in accounts.values():
        account.ent = rules.entitlements(account.settings, account.plans)
    await _set_standing([a for a in accounts.values() if a.payment_overdue])
    found = {ref: by_ref[ref] for ref in wanted if ref in by_ref}
    _remember(tenant_id, found)
    return found


# The terms of an account (its wallet, time zone, plans, costs, settings), kept a
# couple of seconds for the hot path, which then needs no read before its one
# statement. Never its state: balances, blocks, usage and standing are checked in
# that statement. Changes made in this process clear it at once (`forget_terms`);
# another process's plan or cost change reaches this one within TERMS_SECONDS.
TERMS_SECONDS = 2.0
_TERMS_MAX = 50_000
_terms: dict[tuple[int, str], tuple[float, Account]] = {}


def _remember(tenant_id: int, found: dict[str, Account]) -> None:
    if len(_terms) > _TERMS_MAX:
        _terms.clear()
    at = time.monotonic()
    for ref, account in found.items():
        if account.wallet_id is not None and account.test_clock_id is None:
            _terms[(tenant_id, ref)] = (at, account)


def cached_terms(tenant_id: int, ref: str) -> Account | None:
    hit = _terms.get((tenant_id, ref))
    if hit is None or time.monotonic() - hit[0] > TERMS_SECONDS:
        return None
    return hit[1]


def forget_terms() -> None:
    """Plans, subscriptions, costs or customers changed: read terms afresh."""
    _terms.clear()


async def load_account(tenant_id: int, ref: str) -> Account:
    found = (await load_accounts(tenant_id, [check_ref(ref)])).get(ref)
    if found is None:
        raise NotFoundError(f"no customer {ref}", field="customerId")
    return found


async def _set_standing(delinquent: list[Account]) -> None:
    """Delinquent: because an invoice is past due (or written off), or only because
    a payment failed on an invoice not yet due? The refusal says which, as the
    invoices' `overdue` does. One query for the whole batch; each account compares
    due dates with its own now (a test clock's)."""
    if not delinquent:
        return
    rows = await Invoice.filter(
        Q(status="uncollectible") | Q(status="open", due_at__isnull=False),
        customer_id__in=[a.customer_id for a in delinquent],
    ).values_list("customer_id", "status", "due_at")
    for account in delinquent:
        overdue = any(
            customer == account.customer_id
            and (status == "uncollectible" or _aware(due_at) < account.now)
            for customer, status, due_at in rows
        )
        account.standing = (
            rules.Refusal.PAYMENT_OVERDUE if overdue else rules.Refusal.PAYMENT_FAILED
        )


def _account(tenant_id: int, row: dict[str, Any]) -> Account:
    settings = rules.CreditSettings.of(_json(row["credit_settings"]))
    dunning = _json(row["dunning"]) or {}
    blocks = bool(dunning.get("block_credits_when_delinquent", True))
    frozen = row["frozen_time"]
    wallet = row["wallet_id"] is not None
    return Account(
        tenant_id=tenant_id,
        customer_id=row["id"],
        customer_public_id=row["public_id"],
        timezone=row["timezone"] or "UTC",
        now=_aware(frozen) if row["test_clock_id"] is not None and frozen else clock.now(),
        payment_overdue=bool(row["delinquent"]) and blocks,
        settings=settings,
        ent=rules.entitlements(settings, []),
        wallet_id=row["wallet_id"],
        state=rules.WalletState(
            balance=row["balance"] or 0,
            reserved=row["reserved"] or 0,
            usage_day=row["usage_day"] or "",
            used_today=row["used_today"] or 0,
            blocked=bool(row["blocked"]) if wallet else False,
            auto_blocked=bool(row["auto_blocked"]) if wallet else False,
        ),
        next_event_at=_aware(row["next_event_at"]) if row["next_event_at"] else None,
        test_clock_id=row["test_clock_id"],
        blocks_delinquent=blocks,
    )


def _aware(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def state_of(wallet: CreditWallet) -> rules.WalletState:
    return rules.WalletState(
        balance=wallet.balance,
        reserved=wallet.reserved,
        usage_day=wallet.usage_day,
        used_today=wallet.used_today,
        blocked=wallet.blocked,
        auto_blocked=wallet.auto_blocked,
    )


_CREATE_WALLET = """
INSERT INTO credit_wallet (tenant_id, customer_id, balance, reserved, consumed_total,
    consumed_settled, usage_day, used_today, blocked, auto_blocked, created_at, updated_at)
VALUES ($1, $2, 0, 0, 0, 0, '', 0, $3, $4, $5, $6)
ON CONFLICT (customer_id) DO NOTHING"""


async def ensure_wallet(account: Account) -> int:
    """The customer's wallet id, creating the (empty) wallet on first use; safe
    inside a transaction and against a concurrent first use."""
    if account.wallet_id is None:
        now = clock.now()
        conn = CreditWallet._meta.db
        await conn.execute_query(
            raw.portable(conn, _CREATE_WALLET),
            [account.tenant_id, account.customer_id, False, False, now, now],
        )
        wallet = await CreditWallet.get(customer_id=account.customer_id).only("id")
        account.wallet_id = wallet.id
    return account.wallet_id


async def lock_wallets(ids: Sequence[int]) -> dict[int, CreditWallet]:
    """Row locks in id order (every writer's order), inside the caller's transaction."""
    wallets = await CreditWallet.filter(id__in=sorted(set(ids))).order_by("id").select_for_update()
    return {w.id: w for w in wallets}
