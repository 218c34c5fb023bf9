"""Advances: money paid to a payee ahead of earnings, recouped from later earnings by
the royalty run until it is earned out.

An advance is paid in the payee's payout currency (the ledger's), and moves only
the payee's unrecouped advance, not the balance owed: it has been paid already.
Recording one is idempotent by `idempotency_key` (Stripe's rule): a replay returns
the first advance, the same key with other parameters is an IdempotencyError.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from db.royalty_models import RoyaltyAdvance
from domain import clock, validation
from domain.errors import CurrencyMismatchError, IdempotencyError, ValidationError
from domain.ids import new_id
from domain.money import MAX_AMOUNT_MINOR, decimal_string, normalise_currency
from domain.royalties import ledger
from domain.royalties.payees import check_active, load_payee
from domain.royalties.works import load_work
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not 0 < len(key) <= 128:
        raise ValidationError("idempotencyKey is 1 to 128 characters", field="idempotencyKey")
    return key


def _same(advance: RoyaltyAdvance, wanted: dict[str, Any]) -> RoyaltyAdvance:
    """The first advance recorded with this key, if it was recorded with the same
    parameters (a paid_on left out matches any)."""
    for name, value in wanted.items():
        if name == "paid_on" and value is None:
            continue
        if getattr(advance, name) != value:
            raise IdempotencyError(
                "this idempotencyKey was already used with different parameters",
                field="idempotencyKey",
            )
    return advance


@operation
async def record_advance(
    principal: Principal,
    payee_id: str,
    amount_minor: int,
    currency: str,
    paid_on: date | None = None,
    reference: str | None = None,
    idempotency_key: str | None = None,
    *,
    work_id: str | None = None,
) -> RoyaltyAdvance:
    """An advance paid to the payee (optionally against one work), in its payout
    currency: the payee's unrecouped advance grows by the amount, in the ledger."""
    principal.require(Permission.ROYALTIES_MANAGE)
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise ValidationError("amountMinor is whole minor units", field="amount.amountMinor")
    if not 0 < amount_minor <= MAX_AMOUNT_MINOR:
        raise ValidationError("an advance is above 0", field="amount.amountMinor")
    code = normalise_currency(currency, field="amount.currency")
    text = validation.text(reference, field="reference", max_length=200)
    key = _check_key(idempotency_key)
    work = None if work_id is None else await load_work(principal, work_id, field="workId")
    # The lock serialises advances, recoupment and payouts of this payee, and a replay
    # of the same key behind it finds the first advance committed.
    payee = await load_payee(principal, payee_id, field="payeeId", lock=True)
    wanted = {
        "payee_id": payee.id,
        "amount_minor": amount_minor,
        "currency": code,
        "paid_on": paid_on,
        "reference": text,
        "work_id": None if work is None else work.id,
    }
    if key is not None:
        first = await RoyaltyAdvance.get_or_none(tenant_id=principal.tenant_id, idempotency_key=key)
        if first is not None:
            return _same(first, wanted)
    check_active(payee)
    if code != payee.payout_currency:
        raise CurrencyMismatchError(
            f"an advance is paid in the payee's payout currency ({payee.payout_currency})",
            field="amount.currency",
        )
    if work is not None and work.archived_at is not None:
        raise ValidationError("the work is archived", field="workId", code="WORK_ARCHIVED")
    now = clock.now()
    try:
        async with in_transaction():  # a savepoint: a racing key leaves the rest usable
            advance = await RoyaltyAdvance.create(
                public_id=new_id("royalty_advance"),
                tenant_id=principal.tenant_id,
                created_at=now,
                updated_at=now,
                idempotency_key=key,
                **{**wanted, "paid_on": paid_on or now.date()},
            )
    except IntegrityError:
        first = await RoyaltyAdvance.get_or_none(tenant_id=principal.tenant_id, idempotency_key=key)
        if first is None:
            raise
        return _same(first, wanted)
    memo = f"advance {advance.public_id} {decimal_string(amount_minor, code)} {code}"
    if text:
        memo += f" ({text})"
    await ledger.post(
        payee, [ledger.Posting("advance", advance_minor=amount_minor, memo=memo)], at=now
    )
    return advance
