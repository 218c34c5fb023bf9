"""Add-ons: extras sold with a subscription, recurring or one-off, priced per currency.

An add-on may sell a work (`workId`, issue 16): its invoice lines then carry the work
as a SALE, so the work's authors earn royalties on it.
"""

from __future__ import annotations

from typing import Any

from db.models import AddOn, AddOnPrice
from domain import validation
from domain.catalog.repository import CatalogItems, amounts_from_input
from domain.errors import ValidationError
from domain.invoicing.works import work_of
from domain.pagination import Page, PageRequest
from domain.tenancy.access import Permission, Principal

KINDS = ("recurring", "one_off")


def _clean(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if creating:
        out["code"] = validation.code(data.get("code", ""))
        if data.get("kind") not in KINDS:
            raise ValidationError("kind must be RECURRING or ONE_OFF", field="kind")
        out["kind"] = data["kind"]
    if creating or "name" in data:
        out["name"] = validation.text(data.get("name"), field="name", max_length=200, required=True)
    if "description" in data:
        out["description"] = validation.text(
            data["description"], field="description", max_length=5000
        )
    return out


ADD_ONS = CatalogItems(AddOn, AddOnPrice, "add_on_id", "add_on")
load_add_on = ADD_ONS.load


async def create_add_on(
    principal: Principal, data: dict[str, Any], *, idempotency_key: str | None = None
) -> AddOn:
    principal.require(Permission.CATALOG_WRITE)
    fields = _clean(data, creating=True)
    prices = amounts_from_input(data.get("prices") or [], field="prices")
    if data.get("work_id") is not None:
        fields["work_id"] = await work_of(principal.tenant_id, data["work_id"])
    return await ADD_ONS.create(
        principal,
        fields,
        prices,
        operation="createAddOn",
        params=data,
        idempotency_key=idempotency_key,
    )


async def update_add_on(principal: Principal, public_id: str, changes: dict[str, Any]) -> AddOn:
    principal.require(Permission.CATALOG_WRITE)
    fields = _clean(changes, creating=False)
    if "work_id" in changes:  # an explicit null unlinks the work
        fields["work_id"] = await work_of(principal.tenant_id, changes["work_id"])
    prices = None
    if "prices" in changes:
        prices = amounts_from_input(changes["prices"] or [], field="prices")
    return await ADD_ONS.update(principal, public_id, fields, prices)


async def set_add_on_archived(principal: Principal, public_id: str, archived: bool) -> AddOn:
    return await ADD_ONS.set_archived(principal, public_id, archived)


async def get_add_on(
    principal: Principal, *, public_id: str | None = None, code: str | None = None
) -> AddOn | None:
    return await ADD_ONS.get(principal, public_id=public_id, code=code)


async def list_add_ons(
    principal: Principal, page: PageRequest, *, status: str | None = None, search: str | None = None
) -> Page[AddOn]:
    return await ADD_ONS.list(principal, page, status=status, search=search)
