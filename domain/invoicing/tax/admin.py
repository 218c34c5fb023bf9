"""Tenant-configured tax rates (per country, optionally per region, dated)."""

from __future__ import annotations

from datetime import date
from typing import Any

from tortoise.transactions import in_transaction

from db.invoice_models import TaxRate
from domain import clock, validation
from domain.errors import NotFoundError, ValidationError
from domain.ids import check_id, new_id
from domain.money import percent_to_bp
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation


async def set_tax_rate(principal: Principal, data: dict[str, Any]) -> TaxRate:
    """Create a rate, or replace the one for the same country, region and date."""
    principal.require(Permission.TAX_WRITE)
    country = validation.country(data.get("country") or "")
    region = validation.text(data.get("region") or "", field="region", max_length=100)
    name = validation.text(data.get("name"), field="name", max_length=64, required=True)
    raw = data.get("rate") or ""
    if raw in ("0", "0.0", "0.00"):
        rate_bp = 0
    else:
        rate_bp = percent_to_bp(raw, field="rate")
    valid_from = data.get("valid_from")
    if not isinstance(valid_from, date):
        raise ValidationError("validFrom is a date", field="validFrom")
    now = clock.now()
    async with in_transaction():
        row = await TaxRate.get_or_none(
            tenant_id=principal.tenant_id, country=country, region=region, valid_from=valid_from
        )
        if row is None:
            return await TaxRate.create(
                public_id=new_id("tax_rate"),
                tenant_id=principal.tenant_id,
                country=country,
                region=region,
                name=name,
                rate_bp=rate_bp,
                valid_from=valid_from,
                created_at=now,
                updated_at=now,
            )
        row.name, row.rate_bp, row.updated_at = name, rate_bp, now
        await row.save()
        return row


@operation
async def delete_tax_rate(principal: Principal, public_id: str) -> TaxRate:
    principal.require(Permission.TAX_WRITE)
    check_id(public_id, "tax_rate")
    row = await TaxRate.get_or_none(public_id=public_id, tenant_id=principal.tenant_id)
    if row is None:
        raise NotFoundError(f"no tax rate {public_id}", field="id")
    await row.delete()
    return row


async def list_tax_rates(principal: Principal) -> list[TaxRate]:
    principal.require(Permission.TENANT_READ)
    return await TaxRate.filter(tenant_id=principal.tenant_id).order_by(
        "country", "region", "valid_from"
    )
