"""Customer resolvers."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from domain.customers import service
from resolvers.common import mutate, paged, query, to_data
from schema import customers as t
from schema import payloads as p
from schema.common import Connection


def _customer_success(row: Any) -> p.CustomerSuccess:
    return p.CustomerSuccess(customer=row)


async def customer(
    info: Info, id: strawberry.ID | None = None, external_id: str | None = None
) -> t.Customer | None:
    return await query(
        lambda: service.get_customer(info.context.caller, public_id=id, external_id=external_id)
    )


async def customer_list(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    search: str | None = None,
    status: t.CustomerStatus | None = None,
    country: str | None = None,
    currency: str | None = None,
) -> Connection[t.Customer]:
    return await paged(
        info,
        service.list_customers,
        first,
        after,
        search=search,
        status=None if status is None else status.value,
        country=country,
        currency=currency,
    )


async def create_customer(
    info: Info, input: t.CreateCustomerInput, idempotency_key: str | None = None
) -> p.CustomerResult:
    return await mutate(
        service.create_customer(
            info.context.caller, to_data(input), idempotency_key=idempotency_key
        ),
        _customer_success,
    )


async def update_customer(
    info: Info, id: strawberry.ID, input: t.UpdateCustomerInput
) -> p.CustomerResult:
    return await mutate(
        service.update_customer(info.context.caller, id, to_data(input)), _customer_success
    )


async def archive_customer(info: Info, id: strawberry.ID) -> p.CustomerResult:
    return await mutate(
        service.set_customer_archived(info.context.caller, id, True), _customer_success
    )
