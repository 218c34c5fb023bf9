"""Catalog resolvers: plans, add-ons, coupons."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from domain.catalog import add_ons, coupons, plans
from domain.pagination import page_request
from resolvers.common import connection, mutate, query, to_data
from schema import catalog as t
from schema import payloads as p
from schema.common import Connection


def _status(status: t.CatalogStatus | None) -> str | None:
    return None if status is None else status.value


# -- plans -----------------------------------------------------------------------------
async def plan(
    info: Info, id: strawberry.ID | None = None, code: str | None = None
) -> t.Plan | None:
    return await query(lambda: plans.get_plan(info.context.caller, public_id=id, code=code))


async def plan_list(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    status: t.CatalogStatus | None = None,
    search: str | None = None,
) -> Connection[t.Plan]:
    async def run() -> Any:
        page = await plans.list_plans(
            info.context.caller, page_request(first, after), status=_status(status), search=search
        )
        return connection(page)

    return await query(run)


async def create_plan(
    info: Info, input: t.CreatePlanInput, idempotency_key: str | None = None
) -> p.PlanResult:
    return await mutate(
        info,
        lambda: plans.create_plan(
            info.context.caller, to_data(input), idempotency_key=idempotency_key
        ),
        lambda row: p.PlanSuccess(plan=row),
        event="plan.created",
    )


async def update_plan(info: Info, id: strawberry.ID, input: t.UpdatePlanInput) -> p.PlanResult:
    return await mutate(
        info,
        lambda: plans.update_plan(info.context.caller, id, to_data(input)),
        lambda row: p.PlanSuccess(plan=row),
        event="plan.updated",
    )


async def archive_plan(info: Info, id: strawberry.ID) -> p.PlanResult:
    return await mutate(
        info,
        lambda: plans.set_plan_archived(info.context.caller, id, True),
        lambda row: p.PlanSuccess(plan=row),
        event="plan.archived",
    )


# -- add-ons ---------------------------------------------------------------------------
async def add_on(
    info: Info, id: strawberry.ID | None = None, code: str | None = None
) -> t.AddOn | None:
    return await query(lambda: add_ons.get_add_on(info.context.caller, public_id=id, code=code))


async def add_on_list(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    status: t.CatalogStatus | None = None,
    search: str | None = None,
) -> Connection[t.AddOn]:
    async def run() -> Any:
        page = await add_ons.list_add_ons(
            info.context.caller, page_request(first, after), status=_status(status), search=search
        )
        return connection(page)

    return await query(run)


async def create_add_on(
    info: Info, input: t.CreateAddOnInput, idempotency_key: str | None = None
) -> p.AddOnResult:
    return await mutate(
        info,
        lambda: add_ons.create_add_on(
            info.context.caller, to_data(input), idempotency_key=idempotency_key
        ),
        lambda row: p.AddOnSuccess(add_on=row),
        event="add_on.created",
    )


async def update_add_on(info: Info, id: strawberry.ID, input: t.UpdateAddOnInput) -> p.AddOnResult:
    return await mutate(
        info,
        lambda: add_ons.update_add_on(info.context.caller, id, to_data(input)),
        lambda row: p.AddOnSuccess(add_on=row),
        event="add_on.updated",
    )


async def archive_add_on(info: Info, id: strawberry.ID) -> p.AddOnResult:
    return await mutate(
        info,
        lambda: add_ons.set_add_on_archived(info.context.caller, id, True),
        lambda row: p.AddOnSuccess(add_on=row),
        event="add_on.archived",
    )


# -- coupons ---------------------------------------------------------------------------
async def coupon(
    info: Info, id: strawberry.ID | None = None, code: str | None = None
) -> t.Coupon | None:
    return await query(lambda: coupons.get_coupon(info.context.caller, public_id=id, code=code))


async def coupon_list(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    status: t.CatalogStatus | None = None,
    search: str | None = None,
) -> Connection[t.Coupon]:
    async def run() -> Any:
        page = await coupons.list_coupons(
            info.context.caller, page_request(first, after), status=_status(status), search=search
        )
        return connection(page)

    return await query(run)


async def create_coupon(
    info: Info, input: t.CreateCouponInput, idempotency_key: str | None = None
) -> p.CouponResult:
    return await mutate(
        info,
        lambda: coupons.create_coupon(
            info.context.caller, to_data(input), idempotency_key=idempotency_key
        ),
        lambda row: p.CouponSuccess(coupon=row),
        event="coupon.created",
    )


async def update_coupon(
    info: Info, id: strawberry.ID, input: t.UpdateCouponInput
) -> p.CouponResult:
    return await mutate(
        info,
        lambda: coupons.update_coupon(info.context.caller, id, to_data(input)),
        lambda row: p.CouponSuccess(coupon=row),
        event="coupon.updated",
    )


async def archive_coupon(info: Info, id: strawberry.ID) -> p.CouponResult:
    return await mutate(
        info,
        lambda: coupons.set_coupon_archived(info.context.caller, id, True),
        lambda row: p.CouponSuccess(coupon=row),
        event="coupon.archived",
    )
