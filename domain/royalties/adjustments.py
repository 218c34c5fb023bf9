"""Manual royalty adjustments: an admin's signed correction of a payee's earnings for
one period, with its reason, picked up by that period's royalty run (a positive one
as an earning, a negative one as a return), in the currency it was recorded in.

A period whose statement for the payee exists is closed to adjustments: a correction
then goes into a later period, so a stated figure never changes.
"""

from __future__ import annotations

from typing import Any

from db.models import ApiKey
from db.royalty_models import RoyaltyAdjustment
from domain import clock, validation
from domain.errors import ValidationError
from domain.idempotency import run_once
from domain.ids import new_id
from domain.money import MAX_AMOUNT_MINOR, normalise_currency
from domain.royalties.payees import load_payee
from domain.royalties.period_guard import require_open
from domain.royalties.settings import RoyaltyPeriod
from domain.royalties.works import load_work
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation


async def _author(principal: Principal) -> str | None:
    found = await ApiKey.filter(id=principal.key_id, tenant_id=principal.tenant_id).values_list(
        "public_id", flat=True
    )
    return found[0] if found else None


@operation(transaction=False)
async def record_adjustment(
    principal: Principal,
    payee_id: str,
    amount_minor: int,
    currency: str,
    reason: str,
    period: str,
    work_id: str | None = None,
    *,
    idempotency_key: str | None = None,
) -> RoyaltyAdjustment:
    """A signed amount (not 0) for the payee in `period` (YYYY-MM), with a reason;
    refused with PERIOD_CLOSED once a run of that period (or a later one) has started:
    the run reads every adjustment of its period before it writes a statement."""
    principal.require(Permission.ROYALTIES_MANAGE)
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise ValidationError("amountMinor is whole minor units", field="amount.amountMinor")
    if amount_minor == 0 or abs(amount_minor) > MAX_AMOUNT_MINOR:
        raise ValidationError(
            "an adjustment is a signed amount other than 0", field="amount.amountMinor"
        )
    code = normalise_currency(currency, field="amount.currency")
    why = validation.text(reason, field="reason", max_length=500, required=True)
    name = str(RoyaltyPeriod.parse(period))
    params: dict[str, Any] = {
        "payee": payee_id,
        "amount": amount_minor,
        "currency": code,
        "reason": why,
        "period": name,
        "work": work_id,
    }

    async def create() -> RoyaltyAdjustment:
        work = None if work_id is None else await load_work(principal, work_id, field="workId")
        payee = await load_payee(principal, payee_id, field="payeeId")
        await require_open(principal.tenant_id, RoyaltyPeriod.parse(name))
        now = clock.now()
        return await RoyaltyAdjustment.create(
            public_id=new_id("royalty_adjustment"),
            tenant_id=principal.tenant_id,
            payee_id=payee.id,
            work_id=None if work is None else work.id,
            period=name,
            amount_minor=amount_minor,
            currency=code,
            reason=why,
            author=await _author(principal),
            created_at=now,
            updated_at=now,
        )

    return await run_once(
        tenant_id=principal.tenant_id,
        key=idempotency_key,
        operation="recordRoyaltyAdjustment",
        params=params,
        create=create,
        load=lambda pk: RoyaltyAdjustment.get(id=pk),
    )
