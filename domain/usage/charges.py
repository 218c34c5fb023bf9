"""Plan charges: a metric priced by a model, per currency, optionally narrowed to
some dimension values, and a plan's usage terms (commitment, discounts, SLA).

A charge's terms never change once created (amounts billed and running usage
depend on them): to reprice, archive it and add another; events from then on go
to the new one, and the archived one's usage so far is still billed when its
period closes.
"""

from __future__ import annotations

from typing import Any

from db.models import Plan, PlanPrice
from db.usage_models import Charge
from domain import clock, validation
from domain.errors import NotFoundError, ValidationError
from domain.ids import check_id, new_id
from domain.money import normalise_currency
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation
from domain.usage.catalog import plan_charges
from domain.usage.charge_terms import MODELS, parse_terms, terms_json
from domain.usage.metrics import load_metric
from domain.usage.plan_terms import parse_usage_terms

MAX_CHARGES_PER_PLAN = 50
MAX_FILTER_VALUES = 50


async def _plan(principal: Principal, public_id: str) -> Plan:
    check_id(public_id, "plan", field="planId")
    plan = await Plan.get_or_none(public_id=public_id, tenant_id=principal.tenant_id)
    if plan is None:
        raise NotFoundError(f"no plan {public_id}", field="planId")
    return plan


def _filters(data: Any, dimensions: list[str]) -> dict[str, list[str]]:
    if not data:
        return {}
    if not isinstance(data, list):
        raise ValidationError("filters is a list of {key, values}", field="filters")
    found: dict[str, list[str]] = {}
    for i, item in enumerate(data):
        field = f"filters[{i}]"
        key = item.get("key") if isinstance(item, dict) else None
        values = item.get("values") if isinstance(item, dict) else None
        if key not in dimensions:
            raise ValidationError(
                f"{field}.key must be one of the metric's dimensions ({', '.join(dimensions) or 'none'})",
                field=f"{field}.key",
            )
        if (
            not isinstance(values, list)
            or not 0 < len(values) <= MAX_FILTER_VALUES
            or not all(isinstance(v, str) and 0 < len(v) <= 100 for v in values)
        ):
            raise ValidationError(
                f"{field}.values must be 1-{MAX_FILTER_VALUES} strings", field=f"{field}.values"
            )
        if key in found:
            raise ValidationError(f"{field}.key is repeated", field=f"{field}.key")
        found[key] = sorted(set(values))
    return found


def _prices(data: Any, model: str, currencies: set[str]) -> dict[str, dict[str, Any]]:
    if not isinstance(data, list) or not data:
        raise ValidationError(
            "give the charge's terms for each currency of the plan", field="prices"
        )
    found: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(data):
        field = f"prices[{i}]"
        if not isinstance(item, dict):
            raise ValidationError(f"{field} is {{currency, properties}}", field=field)
        currency = normalise_currency(item.get("currency"), field=f"{field}.currency")
        if currency in found:
            raise ValidationError(f"{currency} is given twice", field=f"{field}.currency")
        terms = parse_terms(model, item.get("properties"), field=f"{field}.properties")
        found[currency] = terms_json(terms)
    missing = sorted(currencies - set(found))
    if missing:
        raise ValidationError(
            f"the plan is priced in {', '.join(missing)} too: give the charge's terms there",
            field="prices",
            code="MISSING_CURRENCY",
        )
    extra = sorted(set(found) - currencies)
    if extra:
        raise ValidationError(
            f"the plan has no {extra[0]} price", field="prices", code="CURRENCY_MISMATCH"
        )
    return found


@operation
async def create_charge(principal: Principal, data: dict[str, Any]) -> Charge:
    principal.require(Permission.USAGE_MANAGE)
    plan = await _plan(principal, data.get("plan_id") or "")
    metric = await load_metric(principal, data.get("metric_id") or "", field="metricId")
    if metric.archived_at is not None:
        raise ValidationError("the metric is archived", field="metricId")
    model = str(data.get("model") or "").upper()
    if model not in MODELS:
        raise ValidationError(
            f"model must be one of {', '.join(MODELS)}", field="model", code="INVALID_MODEL"
        )
    currencies = set(await PlanPrice.filter(plan_id=plan.id).values_list("currency", flat=True))
    prices = _prices(data.get("prices"), model, currencies)
    filters = _filters(data.get("filters"), list(metric.dimensions or []))
    count = await Charge.filter(plan_id=plan.id, archived_at=None).count()
    if count >= MAX_CHARGES_PER_PLAN:
        raise ValidationError(f"a plan has at most {MAX_CHARGES_PER_PLAN} charges", field="planId")
    name = data.get("invoice_display_name") or metric.name
    now = clock.now()
    return await Charge.create(
        public_id=new_id("charge"),
        tenant_id=principal.tenant_id,
        plan_id=plan.id,
        metric_id=metric.id,
        model=model,
        prices=prices,
        filters=filters,
        invoice_display_name=validation.text(
            name, field="invoiceDisplayName", max_length=200, required=True
        ),
        position=count,
        created_at=now,
        updated_at=now,
    )


@operation
async def archive_charge(principal: Principal, public_id: str) -> Charge:
    principal.require(Permission.USAGE_MANAGE)
    check_id(public_id, "charge", field="chargeId")
    charge = await Charge.get_or_none(public_id=public_id, tenant_id=principal.tenant_id)
    if charge is None:
        raise NotFoundError(f"no charge {public_id}", field="chargeId")
    if charge.archived_at is None:
        charge.archived_at = charge.updated_at = clock.now()
        await charge.save()
    return charge


async def charges_of_plans(tenant_id: int, plan_ids: list[int]) -> list[list[Charge]]:
    """Each plan's live charges (rows, in display order): the Plan.charges loader."""
    rows = await Charge.filter(
        tenant_id=tenant_id, plan_id__in=sorted(set(plan_ids)), archived_at=None
    ).order_by("position", "id")
    by_plan: dict[int, list[Charge]] = {pid: [] for pid in plan_ids}
    for row in rows:
        by_plan[row.plan_id].append(row)
    return [by_plan[pid] for pid in plan_ids]


@operation
async def set_plan_usage_terms(
    principal: Principal, plan_id: str, data: dict[str, Any] | None
) -> Plan:
    """Replace the plan's usage terms (null clears them); they apply to periods that
    close from now on."""
    principal.require(Permission.USAGE_MANAGE)
    plan = await _plan(principal, plan_id)
    plan.usage_terms = parse_usage_terms(data)
    plan.updated_at = clock.now()
    await plan.save(update_fields=["usage_terms", "updated_at"])
    return plan


__all__ = [
    "archive_charge",
    "charges_of_plans",
    "create_charge",
    "plan_charges",
    "set_plan_usage_terms",
]
