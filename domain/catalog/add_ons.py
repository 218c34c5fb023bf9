"""Add-ons: extras sold with a subscription, recurring or one-off, priced per currency."""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from db.models import AddOn, AddOnPrice
from domain import clock, validation
from domain.catalog.common import (
    amounts_from_input,
    attach_amounts,
    create_with_code,
    find_one,
    get_owned,
    list_page,
    replace_amounts,
    set_archived,
)
from domain.errors import ValidationError
from domain.idempotency import run_once
from domain.pagination import Page, PageRequest
from domain.tenancy.access import Permission, Principal

KINDS = ("recurring", "one_off")
_ATTR = "price_list"


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


async def _with_prices(add_on: AddOn) -> AddOn:
    await attach_amounts([add_on], AddOnPrice, "add_on_id", _ATTR)
    return add_on


async def load_add_on(add_on_id: int) -> AddOn:
    return await _with_prices(await AddOn.get(id=add_on_id))


async def create_add_on(
    principal: Principal, data: dict[str, Any], *, idempotency_key: str | None = None
) -> AddOn:
    principal.require(Permission.CATALOG_WRITE)
    fields = _clean(data, creating=True)
    prices = amounts_from_input(data.get("prices") or [], field="prices")

    async def create() -> AddOn:
        add_on = await create_with_code(AddOn, principal, "add_on", fields)
        await replace_amounts(AddOnPrice, "add_on_id", add_on.id, prices)
        setattr(add_on, _ATTR, prices)
        return add_on

    return await run_once(
        tenant_id=principal.tenant_id,
        key=idempotency_key,
        operation="createAddOn",
        params=data,
        create=create,
        load=load_add_on,
    )


async def update_add_on(principal: Principal, public_id: str, changes: dict[str, Any]) -> AddOn:
    principal.require(Permission.CATALOG_WRITE)
    fields = _clean(changes, creating=False)
    prices = (
        amounts_from_input(changes["prices"] or [], field="prices") if "prices" in changes else None
    )
    if not fields and prices is None:
        raise ValidationError("nothing to update", field="input")
    async with in_transaction():
        query = AddOn.select_for_update()
        add_on = await get_owned(query, principal, public_id, "add_on")  # type: ignore[arg-type]
        if fields:
            add_on.update_from_dict({**fields, "updated_at": clock.now()})
            await add_on.save()
        if prices is not None:
            await replace_amounts(AddOnPrice, "add_on_id", add_on.id, prices)
    return await _with_prices(add_on)


async def set_add_on_archived(principal: Principal, public_id: str, archived: bool) -> AddOn:
    return await _with_prices(await set_archived(AddOn, principal, public_id, "add_on", archived))


async def get_add_on(
    principal: Principal, *, public_id: str | None = None, code: str | None = None
) -> AddOn | None:
    add_on = await find_one(AddOn, principal, "add_on", public_id=public_id, code=code)
    return None if add_on is None else await _with_prices(add_on)


async def list_add_ons(
    principal: Principal, page: PageRequest, *, status: str | None = None, search: str | None = None
) -> Page[AddOn]:
    result = await list_page(AddOn, principal, page, status=status, search=search)
    await attach_amounts(result.items, AddOnPrice, "add_on_id", _ATTR)
    return result
