"""Payees: the authors, translators, illustrators, labels, estates and agents a tenant
pays royalties to, with how and in what currency they are paid.

A payee token sees its own payee only; any other id reads as missing, exactly like
an id from another tenant. The ledger is kept in the payout currency, so that
currency is fixed once the payee has a ledger entry.
"""

from __future__ import annotations

import re
from typing import Any

from db.royalty_models import Payee, RoyaltyLedgerEntry, RoyaltyStatement
from domain import clock, validation
from domain.errors import ConflictError, NotFoundError, ValidationError
from domain.ids import check_id, new_id
from domain.money import MAX_AMOUNT_MINOR, normalise_currency
from domain.pagination import Page, PageRequest, paginate
from domain.tenancy.access import Permission, Principal, Role
from domain.unit_of_work import operation

KINDS = ("author", "translator", "illustrator", "label", "estate", "agent")
LANGUAGES = ("en", "fr", "de", "es", "ar")
METHODS = ("manual", "stripe_connect", "mobile_money")
_STRIPE_ACCOUNT = re.compile(r"^acct_[A-Za-z0-9]{1,59}$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")  # ITU-T E.164: at most 15 digits
# An agent may itself be paid through an agent; a longer chain is almost surely a
# mistake, and walking it stays bounded.
MAX_AGENT_CHAIN = 8


# -- access ------------------------------------------------------------------------------
def require_read(principal: Principal, *, service: bool = False) -> None:
    """Admins read everything, a payee token its own rows; a service key (which
    records reads) also reads works when `service`."""
    if principal.can(Permission.ROYALTIES_MANAGE) or principal.can(Permission.ROYALTIES_READ):
        return
    if service and principal.can(Permission.ROYALTIES_READS):
        return
    principal.require(Permission.ROYALTIES_MANAGE)


def own_payee(principal: Principal) -> int | None:
    """The one payee a payee token is bound to; None for every other role."""
    return principal.payee_id if principal.role is Role.PAYEE else None


def payee_scope(principal: Principal) -> dict[str, Any]:
    found: dict[str, Any] = {"tenant_id": principal.tenant_id}
    if principal.role is Role.PAYEE:
        found["id"] = principal.payee_id
    return found


# -- input rules -------------------------------------------------------------------------
def _choice(value: Any, allowed: tuple[str, ...], field: str, code: str) -> str:
    text = str(value or "").strip().lower()
    if text not in allowed:
        raise ValidationError(
            f"{field} must be one of {', '.join(allowed)}", field=field, code=code
        )
    return text


def _account(method: str, account: str | None) -> str | None:
    """What a payout method needs: a Stripe Connect account id (acct_…) or a mobile
    money number in E.164 (+ and up to 15 digits); a manual transfer may keep a short
    free-text reference (the bank account's last digits, say)."""
    account = (account or "").strip() or None
    if method == "stripe_connect":
        if account is None or not _STRIPE_ACCOUNT.match(account):
            raise ValidationError(
                "a Stripe Connect payout needs the account id (acct_…)",
                field="payoutAccount",
                code="INVALID_PAYOUT_ACCOUNT",
            )
    elif method == "mobile_money":
        number = re.sub(r"[\s.-]", "", account or "")
        if not _E164.match(number):
            raise ValidationError(
                "a mobile money payout needs the number in E.164 (+22177…)",
                field="payoutAccount",
                code="INVALID_PAYOUT_ACCOUNT",
            )
        account = number
    elif account is not None:
        account = validation.text(account, field="payoutAccount", max_length=64)
    return account


def _threshold(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AMOUNT_MINOR:
        raise ValidationError(
            "thresholdMinor is 0 or more minor units (null: the tenant's default)",
            field="thresholdMinor",
        )
    return value


def clean_payee(data: dict[str, Any], *, current: Payee | None = None) -> dict[str, Any]:
    """The columns `data` sets (snake_case keys, as `to_data` gives them); on an update
    only the keys present, with the payout method and account checked together."""
    creating = current is None
    out: dict[str, Any] = {}
    if creating or "name" in data:
        out["name"] = validation.text(data.get("name"), field="name", max_length=200, required=True)
    if "email" in data:
        out["email"] = validation.email(data["email"])
    if creating or "kind" in data:
        out["kind"] = _choice(data.get("kind", "author"), KINDS, "kind", "INVALID_KIND")
    if creating or "language" in data:
        out["language"] = _choice(
            data.get("language") or "en", LANGUAGES, "language", "INVALID_LANGUAGE"
        )
    if creating or "payout_currency" in data:
        out["payout_currency"] = normalise_currency(
            data.get("payout_currency"), field="payoutCurrency"
        )
    if creating or "payout_method" in data or "payout_account" in data:
        method = data.get("payout_method") or (current.payout_method if current else "manual")
        method = _choice(method, METHODS, "payoutMethod", "INVALID_PAYOUT_METHOD")
        account = data["payout_account"] if "payout_account" in data else None
        if "payout_account" not in data and current is not None and method == current.payout_method:
            account = current.payout_account
        out["payout_method"] = method
        out["payout_account"] = _account(method, account)
    if "tax_id" in data:
        out["tax_id"] = validation.text(data["tax_id"], field="taxId", max_length=64) or None
    if "threshold_minor" in data:
        out["threshold_minor"] = _threshold(data["threshold_minor"])
    return out


async def _agent(principal: Principal, agent_ref: str | None, payee: Payee | None) -> int | None:
    """The agent through whom a payee is paid: another payee of the tenant, never the
    payee itself, nor anyone paid (directly or not) through the payee."""
    if agent_ref is None:
        return None
    check_id(agent_ref, "payee", field="agentId")
    agent = await Payee.get_or_none(public_id=agent_ref, tenant_id=principal.tenant_id)
    if agent is None:
        raise NotFoundError(f"no payee {agent_ref}", field="agentId")
    if agent.archived_at is not None:
        raise ValidationError("the agent is archived", field="agentId", code="PAYEE_ARCHIVED")
    if payee is None:
        return agent.id
    if agent.id == payee.id:
        raise ValidationError("a payee is not its own agent", field="agentId", code="AGENT_CYCLE")
    seen, step = {agent.id}, agent.agent_id
    while step is not None:
        if step == payee.id:
            raise ValidationError(
                "that agent is paid through this payee", field="agentId", code="AGENT_CYCLE"
            )
        if step in seen or len(seen) >= MAX_AGENT_CHAIN:
            raise ValidationError(
                f"a chain of agents is at most {MAX_AGENT_CHAIN} long",
                field="agentId",
                code="AGENT_CHAIN_TOO_LONG",
            )
        seen.add(step)
        rows = await Payee.filter(id=step, tenant_id=principal.tenant_id).values_list(
            "agent_id", flat=True
        )
        step = rows[0] if rows else None
    return agent.id


# -- operations --------------------------------------------------------------------------
async def load_payee(
    principal: Principal, public_id: str, *, field: str = "payeeId", lock: bool = False
) -> Payee:
    """The caller's payee by public id (a payee token: only its own), else NotFound."""
    check_id(public_id, "payee", field=field)
    query = Payee.select_for_update() if lock else Payee
    payee = await query.get_or_none(public_id=public_id, **payee_scope(principal))
    if payee is None:
        raise NotFoundError(f"no payee {public_id}", field=field)
    return payee


def check_active(payee: Payee, *, field: str = "payeeId") -> Payee:
    if payee.archived_at is not None:
        raise ValidationError(
            f"payee {payee.public_id} is archived", field=field, code="PAYEE_ARCHIVED"
        )
    return payee


@operation
async def create_payee(principal: Principal, data: dict[str, Any]) -> Payee:
    principal.require(Permission.ROYALTIES_MANAGE)
    fields = clean_payee(data)
    fields["agent_id"] = await _agent(principal, data.get("agent_id"), None)
    now = clock.now()
    return await Payee.create(
        public_id=new_id("payee"),
        tenant_id=principal.tenant_id,
        created_at=now,
        updated_at=now,
        **fields,
    )


@operation
async def update_payee(principal: Principal, payee_id: str, data: dict[str, Any]) -> Payee:
    principal.require(Permission.ROYALTIES_MANAGE)
    payee = await load_payee(principal, payee_id, field="id", lock=True)
    fields = clean_payee(data, current=payee)
    if "agent_id" in data:
        fields["agent_id"] = await _agent(principal, data["agent_id"], payee)
    currency = fields.get("payout_currency")
    if currency is not None and currency != payee.payout_currency:
        if await RoyaltyLedgerEntry.exists(payee_id=payee.id):
            raise ConflictError(
                "the payout currency is fixed once the payee has ledger entries "
                "(its balances are kept in it)",
                field="payoutCurrency",
                code="PAYOUT_CURRENCY_LOCKED",
            )
    for name, value in fields.items():
        setattr(payee, name, value)
    payee.updated_at = clock.now()
    await payee.save(update_fields=[*fields, "updated_at"])
    return payee


@operation
async def archive_payee(principal: Principal, payee_id: str) -> Payee:
    """No new shares, contracts or advances; what it is owed is still stated and paid."""
    principal.require(Permission.ROYALTIES_MANAGE)
    payee = await load_payee(principal, payee_id, field="id", lock=True)
    if payee.archived_at is None:
        payee.archived_at = payee.updated_at = clock.now()
        await payee.save(update_fields=["archived_at", "updated_at"])
    return payee


async def get_payee(principal: Principal, payee_id: str) -> Payee | None:
    require_read(principal)
    try:
        return await load_payee(principal, payee_id, field="id")
    except NotFoundError:
        return None


async def list_payees(
    principal: Principal,
    page: PageRequest,
    *,
    include_archived: bool = False,
    kind: str | None = None,
) -> Page[Payee]:
    require_read(principal)
    query = Payee.filter(**payee_scope(principal))
    if not include_archived:
        query = query.filter(archived_at=None)
    if kind is not None:
        query = query.filter(kind=_choice(kind, KINDS, "kind", "INVALID_KIND"))
    return await paginate(query, page)


async def payees_by_ids(principal: Principal, ids: list[int]) -> list[Payee | None]:
    """Payees by internal id in the order asked (a loader); a payee token gets only its
    own, and a key that may not read payees (a service key reading works) none: the
    others are None."""
    if not (principal.can(Permission.ROYALTIES_MANAGE) or principal.can(Permission.ROYALTIES_READ)):
        return [None] * len(ids)
    rows = await Payee.filter(id__in=sorted(set(ids)), **payee_scope(principal))
    found = {p.id: p for p in rows}
    return [found.get(i) for i in ids]


async def statements_by_ids(principal: Principal, ids: list[int]) -> list[RoyaltyStatement | None]:
    """Statements by internal id in the order asked (a loader for the payouts and ledger
    entries that point at them); a payee token gets only its own."""
    scope: dict[str, Any] = {"tenant_id": principal.tenant_id}
    if principal.role is Role.PAYEE:
        scope["payee_id"] = principal.payee_id
    rows = await RoyaltyStatement.filter(id__in=sorted(set(ids)), **scope)
    found = {s.id: s for s in rows}
    return [found.get(i) for i in ids]
