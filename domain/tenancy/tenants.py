"""Tenants: the businesses that bill their customers through Tally."""

from __future__ import annotations

import re
from typing import Any

from tortoise.transactions import in_transaction

from db.models import Tenant
from domain import clock, validation
from domain.errors import ValidationError
from domain.events import feed
from domain.ids import new_id
from domain.money import normalise_currency
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation


def _clean(changes: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in changes or creating:
        out["name"] = validation.text(
            changes.get("name"), field="name", max_length=200, required=True
        )
    if "legal_name" in changes:
        out["legal_name"] = validation.text(
            changes["legal_name"], field="legalName", max_length=200, required=True
        )
    if "country" in changes or creating:
        out["country"] = validation.country(changes.get("country") or "", field="country")
    if "default_currency" in changes or creating:
        out["default_currency"] = normalise_currency(
            changes.get("default_currency"), field="defaultCurrency"
        )
    if "default_locale" in changes:
        out["default_locale"] = validation.locale(changes["default_locale"], field="defaultLocale")
    if "timezone" in changes:
        out["timezone"] = validation.timezone(changes["timezone"])
    if "vat_id" in changes:
        out["vat_id"] = validation.vat_id(changes["vat_id"])
    if "payment_terms_days" in changes:
        out["payment_terms_days"] = validation.non_negative(
            changes["payment_terms_days"], field="paymentTermsDays", maximum=365
        )
    if "usage_grace_days" in changes:  # how late a usage event may arrive (issue 15)
        out["usage_grace_days"] = validation.non_negative(
            changes["usage_grace_days"], field="usageGraceDays", maximum=31
        )
    if changes.get("address") is not None:
        out.update(validation.address(changes["address"]))
    if "test_mode" in changes:
        out["test_mode"] = bool(changes["test_mode"])
    out.update(_billing_settings(changes))
    return out


_PREFIX = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,15}$")


def _billing_settings(changes: dict[str, Any]) -> dict[str, Any]:
    """Invoice numbering, tax registrations and the sender address of invoices."""
    out: dict[str, Any] = {}
    for key, field in (
        ("invoice_prefix", "invoicePrefix"),
        ("credit_note_prefix", "creditNotePrefix"),
    ):
        if key in changes:
            value = (changes[key] or "").strip().upper()
            if not _PREFIX.match(value):
                raise ValidationError("a prefix is 1-16 letters, digits or '-'", field=field)
            out[key] = value
    if "number_digits" in changes:
        digits = changes["number_digits"]
        if not isinstance(digits, int) or not 1 <= digits <= 12:
            raise ValidationError("numberDigits must be 1-12", field="numberDigits")
        out["number_digits"] = digits
    if "number_reset" in changes:
        reset = (changes["number_reset"] or "").lower()
        if reset not in ("yearly", "never"):
            raise ValidationError("numberReset is YEARLY or NEVER", field="numberReset")
        out["number_reset"] = reset
    if "tax_registrations" in changes:
        regs: list[str] = []
        for i, value in enumerate(changes["tax_registrations"] or []):
            code = (value or "").strip().upper()
            regs.append(
                code
                if code == "EU_OSS"
                else validation.country(code, field=f"taxRegistrations[{i}]")
            )
        out["tax_registrations"] = sorted(set(regs))
    if "billing_email" in changes:
        out["billing_email"] = validation.email(changes["billing_email"], field="billingEmail")
    return out


async def create_tenant(**fields: Any) -> Tenant:
    """Operator action (CLI): no principal exists before the tenant does."""
    data = _clean(fields, creating=True)
    data.setdefault("legal_name", data["name"])
    now = clock.now()
    async with in_transaction():
        return await Tenant.create(
            public_id=new_id("tenant"), created_at=now, updated_at=now, **data
        )


async def get_tenant(principal: Principal) -> Tenant:
    principal.require(Permission.TENANT_READ)
    return await Tenant.get(id=principal.tenant_id)


@operation(transaction=False)
async def update_tenant(principal: Principal, changes: dict[str, Any]) -> Tenant:
    principal.require(Permission.TENANT_WRITE)
    data = _clean(changes, creating=False)
    if not data:
        raise ValidationError("nothing to update", field="input")
    async with in_transaction():
        tenant = await Tenant.select_for_update().get(id=principal.tenant_id)
        tenant.update_from_dict({**data, "updated_at": clock.now()})
        await tenant.save()
    from domain.tenancy.api_keys import forget_keys

    forget_keys()  # authenticated callers carry their tenant row
    feed.tell("tenant.updated", tenant, tenant_id=tenant.id)
    return tenant
