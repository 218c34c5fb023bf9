"""Closing usage periods onto invoices, in arrears: the lines a renewal, a final
or a resume invoice carries for the period that just ended, and the adjustments
late events made to periods billed before.

One rule serves every case: a period's amounts are priced from its aggregates
(the same `price_period` `currentUsage` uses), per key — each charge's public id,
`_minimum` (commitment true-up), `_discount` (volume discount), `_sla` (SLA
credit) — and the invoice bills each key's difference from what the period's
`billed` map says was billed already. So a plan change that froze one charge
mid-period, a late event, or a re-run all bill exactly the remainder, never
twice. A late difference that lowers the total becomes a credit note on the
period's invoice, never an edit of a finalized one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from db.bulk import update_many
from db.invoice_models import Invoice
from db.usage_models import BillableMetric, Charge, Incident, UsagePeriod
from domain.invoicing.builder import DraftLine
from domain.invoicing.credit_notes import issue_credit_note
from domain.money import div_half_up
from domain.usage import event_store
from domain.usage.catalog import charge_spec, metric_spec, plan_charges
from domain.usage.charge_terms import decimal_text
from domain.usage.current import (
    PeriodUsage,
    distinct_counts,
    load_aggregates,
    load_carried,
    price_period,
    spanning_uniques,
)
from domain.usage.plan_terms import UsageTerms
from domain.usage.pricing import volume_discount_minor
from domain.usage.sla import sla_credit_minor, sla_credit_percent, uptime_percent


@dataclass(frozen=True, slots=True)
class CloseRequest:
    key: Any  # the caller's: which invoice spec asked
    sub: Any
    plan: Any  # the plan the period closes on (its usage terms)
    start: datetime
    end: datetime
    free: bool = False


@dataclass
class Closed:
    lines: list[DraftLine] = field(default_factory=list)
    # (period row, new billed map, its new status: billed | free, or None for an
    # adjustment that leaves it as it is)
    updates: list[tuple[UsagePeriod, dict[str, int], str | None]] = field(default_factory=list)
    credits: list[tuple[UsagePeriod, int]] = field(default_factory=list)  # net minor to credit


def _tier_rows(priced: Any) -> list[dict[str, Any]]:
    return [
        {
            "from": decimal_text(p.from_units),
            "to": None if p.to_units is None else decimal_text(p.to_units),
            "units": decimal_text(p.units),
            "unitPrice": decimal_text(p.unit_price),
            "flatFee": decimal_text(p.flat_fee),
            "amount": decimal_text(p.amount),
        }
        for p in priced.parts
    ]


def _amounts(usage: PeriodUsage, terms: UsageTerms, uptime: Any) -> dict[str, tuple[int, Any]]:
    """key → (amount, what describes it: the charge usage, or the term's figure)."""
    found: dict[str, tuple[int, Any]] = {
        c.charge.public_id: (c.amount_minor, c) for c in usage.charges
    }
    total = usage.amount_minor
    minimum = terms.minimum.get(usage.currency)
    if minimum is not None:
        found["_minimum"] = (max(0, minimum - total), minimum)
    tiers = terms.discount_tiers(usage.currency)
    if tiers:
        discount, percent = volume_discount_minor(total, tiers)
        found["_discount"] = (-discount, percent)
    if terms.sla and uptime is not None:
        percent = sla_credit_percent(uptime, terms.sla)
        found["_sla"] = (-sla_credit_minor(total, percent), (uptime, percent))
    return found


def _line(
    key: str, due: int, what: Any, start: datetime, end: datetime, kind: str | None
) -> DraftLine:
    if key.startswith("_"):
        term_kind = {
            "_minimum": "usage_minimum",
            "_discount": "usage_discount",
            "_sla": "sla_credit",
        }[key]
        if key == "_sla":
            uptime, percent = what
            name, details = f"{uptime} %", {"uptime": str(uptime), "percent": str(percent)}
        elif key == "_discount":
            name, details = f"{what} %", {"percent": str(what)}
        else:
            name, details = "", {"minimumMinor": what}
        return DraftLine(
            kind or term_kind,
            name,
            1,
            due,
            due,
            False,
            key == "_minimum",
            start,
            end,
            {"term": term_kind, **details},
        )
    usage = what
    priced = usage.priced
    details = {
        "charge": usage.charge.public_id,
        "metric": usage.charge.metric.code,
        "model": usage.charge.model,
        "units": decimal_text(usage.units),
        "events": usage.events,
        "unitPrice": None if priced.unit_price is None else decimal_text(priced.unit_price),
        "tiers": _tier_rows(priced),
        "groups": [
            {"group": g.group, "units": decimal_text(g.units), "amountMinor": g.amount_minor}
            for g in usage.groups
        ],
        "amountMinor": usage.amount_minor,
        # What was priced (after free units) and its exact amount before the one
        # rounding: the PDF shows how the quantity became the line.
        "billedUnits": decimal_text(priced.units),
        "amount": decimal_text(priced.amount),
    }
    return DraftLine(
        kind or "usage", usage.charge.display_name, 1, due, due, False, True, start, end, details
    )


async def _incidents(
    requests: Sequence[CloseRequest],
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Each subscription's incidents overlapping its closing period (one query)."""
    wanted = [r for r in requests if UsageTerms.of(r.plan.usage_terms).sla]
    found: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    if not wanted:
        return found
    rows = await Incident.filter(
        tenant_id__in=sorted({r.sub.tenant_id for r in wanted}),
        started_at__lt=max(r.end for r in wanted),
        ended_at__gt=min(r.start for r in wanted),
    )
    for r in wanted:
        for inc in rows:
            mine = not inc.customer_ids or r.sub.customer_id in inc.customer_ids
            if (
                inc.tenant_id == r.sub.tenant_id
                and mine
                and inc.started_at < r.end
                and inc.ended_at > r.start
            ):
                found[r.sub.id].append((inc.started_at, inc.ended_at))
    return found


async def _charges_for(by_plan: dict[int, list[Any]], aggregates: dict) -> dict[int, Any]:
    """Every charge a period is priced on: its plan's, and any other with usage in
    it (a plan changed mid-period: the old charges' usage, on the old prices)."""
    specs = {c.id: c for charges in by_plan.values() for c in charges}
    missing = sorted({row.charge_id for rows in aggregates.values() for row in rows} - set(specs))
    if missing:
        rows = await Charge.filter(id__in=missing)
        metrics = {
            m.id: metric_spec(m)
            for m in await BillableMetric.filter(id__in=sorted({r.metric_id for r in rows}))
        }
        specs.update({r.id: charge_spec(r, metrics[r.metric_id]) for r in rows})
    return specs


async def close_usage(
    requests: Sequence[CloseRequest], *, preview: bool = False
) -> dict[Any, Closed]:
    """The usage lines of each request's invoice, with what to record once it is
    stored (`record_usage`). With `preview`, nothing is locked or created."""
    closed: dict[Any, Closed] = {r.key: Closed() for r in requests}
    requests = [r for r in requests if r.sub.id is not None]
    if not requests:
        return closed
    # Two statements decide who has usage at all (a metered plan, or periods from
    # before a plan change); flat-fee subscriptions stop here.
    charged = await plan_charges(r.plan.id for r in requests)
    known = await UsagePeriod.filter(subscription_id__in=sorted({r.sub.id for r in requests}))
    with_periods = {p.subscription_id for p in known}
    live = [r for r in requests if charged.get(r.plan.id) or r.sub.id in with_periods]
    if not live:
        return closed
    subs = {r.sub.id: r.sub for r in live}
    wanted = {(r.sub.id, r.start): (r.end, r.sub.currency) for r in live}
    if preview:
        found = {(p.subscription_id, p.start): p for p in known}
        late: list[UsagePeriod] = []
    else:
        # Billed periods are locked too, and read again under the lock: a late event
        # committing meanwhile is either seen here or flags its period for next time.
        billed = {
            (p.subscription_id, p.start): (p.end, p.currency)
            for p in known
            if p.subscription_id in subs and p.status == "billed"
        }
        found = await event_store.lock_periods(
            {s.id: s.tenant_id for s in subs.values()}, {**billed, **wanted}, mode="UPDATE"
        )
        late = [found[k] for k in billed if k not in wanted and found[k].changed]
    periods = {k: found[k] for k in wanted if k in found}
    keys = list(wanted) + [(p.subscription_id, p.start) for p in late]
    aggregates = await load_aggregates(keys)
    specs = await _charges_for(charged, aggregates)
    carried = await load_carried(keys, list(specs.values()))
    incidents = await _incidents(live)
    by_plan = defaultdict(list)
    for spec in specs.values():
        by_plan[spec.plan_id].append(spec)

    async def priced(sub: Any, plan_id: int, start: datetime, end: datetime) -> PeriodUsage:
        rows = aggregates.get((sub.id, start), [])
        used = {row.charge_id for row in rows}
        charges = sorted(
            {c.id: c for c in [*by_plan[plan_id], *(specs[i] for i in used)]}.values(),
            key=lambda c: (c.plan_id != plan_id, c.id),
        )
        distinct = await distinct_counts(spanning_uniques(charges, rows))
        live = {c.id for c in by_plan[plan_id]}
        return price_period(sub, charges, start, end, end, rows, carried, distinct, live)

    for r in live:
        out = closed[r.key]
        period = periods.get((r.sub.id, r.start))
        if r.free or period is None:
            if period is not None:
                out.updates.append((period, dict(period.billed), "free"))
            continue
        usage = await priced(r.sub, r.plan.id, r.start, r.end)
        terms = UsageTerms.of(r.plan.usage_terms)
        uptime = uptime_percent(r.start, r.end, incidents[r.sub.id]) if terms.sla else None
        billed = dict(period.billed)
        for key, (amount, what) in _amounts(usage, terms, uptime).items():
            due = amount - billed.get(key, 0)
            shown = key.startswith("_") or what.events or key in billed
            if due or (shown and key not in billed and not key.startswith("_")):
                out.lines.append(_line(key, due, what, r.start, r.end, None))
            billed[key] = amount
        # What late events re-price it against: its real end (a change of interval
        # closes a period early) and the terms it closed on.
        period.end, period.terms = r.end, r.plan.usage_terms
        out.updates.append((period, billed, "billed"))
    first_request = {}
    for r in live:
        first_request.setdefault(r.sub.id, r)
    for period in late:
        r = first_request[period.subscription_id]
        sub = subs[period.subscription_id]
        # Its charges are found from the period's aggregates, its commitment and
        # discounts are the ones it closed on; its SLA credit stays as billed.
        usage = await priced(sub, r.plan.id, period.start, period.end)
        billed = dict(period.billed)
        diffs = []
        for key, (amount, what) in _amounts(usage, UsageTerms.of(period.terms), None).items():
            if key == "_sla":
                continue
            due = amount - billed.get(key, 0)
            if due:
                diffs.append((key, due, what))
            billed[key] = amount
        net = sum(d for _, d, _ in diffs)
        if net > 0:
            closed[r.key].lines.extend(
                _line(k, d, w, period.start, period.end, "usage_adjustment") for k, d, w in diffs
            )
        elif net < 0:
            closed[r.key].credits.append((period, -net))
        closed[r.key].updates.append((period, billed, None))
    return closed


async def record_usage(done: Sequence[tuple[Closed, Any]], now: datetime) -> None:
    """Once the invoices are stored: what each period has been billed, and a credit
    note for each late difference that lowered a billed period's amount."""
    rows = []
    for closed, invoice in done:
        for period, billed, status in closed.updates:
            period.billed, period.changed = billed, False
            if status is not None:
                period.status = status
                period.invoice_id = invoice.id if invoice is not None else period.invoice_id
            rows.append(period)
        for period, net in closed.credits:
            await _credit_late(period, net, now)
    if rows:
        await update_many(
            UsagePeriod, ("billed", "changed", "status", "invoice_id", "end", "terms"), rows
        )


async def _credit_late(period: UsagePeriod, net: int, now: datetime) -> None:
    """Late events lowered a billed period by `net` (before tax): credit it, with
    the invoice's tax, on the period's invoice, as far as it is still creditable."""
    if period.invoice_id is None:
        return
    invoice = await Invoice.select_for_update().get(id=period.invoice_id)
    if invoice.status not in ("open", "paid", "uncollectible"):
        return
    rate = invoice.tax_breakdown[0]["rate_bp"] if invoice.tax_breakdown else 0
    inclusive = bool(invoice.tax_breakdown and invoice.tax_breakdown[0].get("inclusive"))
    gross = net if inclusive else net + div_half_up(net * rate, 10_000)
    amount = min(gross, invoice.total_minor - invoice.amount_credited_minor)
    if amount > 0:
        memo = f"Late usage lowered {period.start.date()} - {period.end.date()}"
        await issue_credit_note(invoice, amount, "order_change", memo, now)
