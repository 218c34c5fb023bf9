"""Catalog resolvers: plans, add-ons, coupons.

The three entities read and change the same way, so their resolvers come from small
factories. (No `from __future__ import annotations` here: the return types are built
from the factory's arguments and must be real types when Strawberry reads them.)"""

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.types import Info

from domain.catalog import add_ons, coupons, plans
from resolvers.common import mutate, paged, query, to_data
from schema import catalog as t
from schema import payloads as p
from schema.common import Connection


def _getter(fetch: Callable[..., Awaitable[Any]], node: type) -> Callable[..., Any]:
    async def resolve(
        info: Info, id: strawberry.ID | None = None, code: str | None = None
    ) -> node | None:  # type: ignore[valid-type]
        return await query(lambda: fetch(info.context.caller, public_id=id, code=code))

    return resolve


def _lister(fetch: Callable[..., Awaitable[Any]], node: type) -> Callable[..., Any]:
    async def resolve(
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: t.CatalogStatus | None = None,
        search: str | None = None,
    ) -> Connection[node]:  # type: ignore[valid-type]
        value = None if status is None else status.value
        return await paged(info, fetch, first, after, status=value, search=search)

    return resolve


def _archiver(
    archive: Callable[..., Awaitable[Any]], success: Callable[[Any], Any], result: Any
) -> Callable[..., Any]:
    async def resolve(info: Info, id: strawberry.ID) -> result:  # type: ignore[valid-type]
        return await mutate(archive(info.context.caller, id, True), success)

    return resolve


def _plan(row: Any) -> p.PlanSuccess:
    return p.PlanSuccess(plan=row)


def _add_on(row: Any) -> p.AddOnSuccess:
    return p.AddOnSuccess(add_on=row)


def _coupon(row: Any) -> p.CouponSuccess:
    return p.CouponSuccess(coupon=row)


plan = _getter(plans.get_plan, t.Plan)
plan_list = _lister(plans.list_plans, t.Plan)
archive_plan = _archiver(plans.set_plan_archived, _plan, p.PlanResult)
add_on = _getter(add_ons.get_add_on, t.AddOn)
add_on_list = _lister(add_ons.list_add_ons, t.AddOn)
archive_add_on = _archiver(add_ons.set_add_on_archived, _add_on, p.AddOnResult)
coupon = _getter(coupons.get_coupon, t.Coupon)
coupon_list = _lister(coupons.list_coupons, t.Coupon)
archive_coupon = _archiver(coupons.set_coupon_archived, _coupon, p.CouponResult)


async def create_plan(
    info: Info, input: t.CreatePlanInput, idempotency_key: str | None = None
) -> p.PlanResult:
    return await mutate(
        plans.create_plan(info.context.caller, to_data(input), idempotency_key=idempotency_key),
        _plan,
    )


async def update_plan(info: Info, id: strawberry.ID, input: t.UpdatePlanInput) -> p.PlanResult:
    return await mutate(plans.update_plan(info.context.caller, id, to_data(input)), _plan)


async def create_add_on(
    info: Info, input: t.CreateAddOnInput, idempotency_key: str | None = None
) -> p.AddOnResult:
    return await mutate(
        add_ons.create_add_on(info.context.caller, to_data(input), idempotency_key=idempotency_key),
        _add_on,
    )


async def update_add_on(info: Info, id: strawberry.ID, input: t.UpdateAddOnInput) -> p.AddOnResult:
    return await mutate(add_ons.update_add_on(info.context.caller, id, to_data(input)), _add_on)


async def create_coupon(
    info: Info, input: t.CreateCouponInput, idempotency_key: str | None = None
) -> p.CouponResult:
    return await mutate(
        coupons.create_coupon(info.context.caller, to_data(input), idempotency_key=idempotency_key),
        _coupon,
    )


async def update_coupon(
    info: Info, id: strawberry.ID, input: t.UpdateCouponInput
) -> p.CouponResult:
    return await mutate(coupons.update_coupon(info.context.caller, id, to_data(input)), _coupon)
