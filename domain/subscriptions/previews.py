"""The upcoming invoice of a subscription: what its next renewal (or trial end, or
resume) will bill, with the usage so far, pending prorations and any scheduled
change. Nothing is written: the engine runs on a copy of the row."""

from __future__ import annotations

import copy
from collections.abc import Sequence

from db.models import Plan, Subscription
from domain.invoicing.builder import Draft
from domain.subscriptions import state_machine
from domain.subscriptions.billing import drafts_for, pending_for


async def preview_next_invoice(sub: Subscription) -> Draft | None:
    """The invoice the next renewal (or trial end, or resume) will produce, including
    pending prorations and any scheduled change; nothing is written."""
    return (await preview_next_invoices([sub]))[0]


async def preview_next_invoices(subs: Sequence[Subscription]) -> list[Draft | None]:
    """`preview_next_invoice` of many subscriptions (a page of them) in a fixed number
    of statements, in the order given."""
    shadows = [copy.copy(sub) for sub in subs]
    due = [(shadow, at) for shadow in shadows if (at := state_machine.next_action(shadow))]
    if not due:
        return [None] * len(subs)
    plan_ids = {pid for shadow, _ in due for pid in _plan_ids(shadow)}
    plans = {p.id: p for p in await Plan.filter(id__in=sorted(plan_ids))}
    specs = []
    for shadow, at in due:
        found, _ = state_machine.advance(shadow, plans[shadow.plan_id], plans, at)
        specs += found[:1]
    pending = await pending_for([shadow.id for shadow, _ in due])
    new = await drafts_for(specs, pending, preview=True)
    drafts = {item.subscription_id: item.draft for item in new}
    return [drafts.get(sub.id) for sub in subs]


def _plan_ids(sub: Subscription) -> list[int]:
    ids = [sub.plan_id]
    if sub.pending_change:
        ids.append(sub.pending_change["plan_id"])
    return ids
