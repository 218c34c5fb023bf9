"""Viewer, tenant and API key resolvers, and the live tenant event stream."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.types import Info

from domain.events.bus import tenant_channel
from domain.tenancy import api_keys, tenants, web_sessions
from domain.tenancy.access import Permission, Role
from resolvers import live
from resolvers.common import mutate, query, to_data
from schema import payloads as p
from schema import tenancy as t
from schema.royalties import royalty_loaders


async def viewer(info: Info) -> t.Viewer:
    ctx = info.context
    principal = ctx.caller
    customer = payee = None
    if principal.customer_id is not None:
        customer = await ctx.loaders.customer_by_id.load(principal.customer_id)
    if principal.payee_id is not None:
        payee = await royalty_loaders(info).payee_by_id.load(principal.payee_id)
    return t.Viewer(
        role=t.ApiKeyRole(principal.role.value),
        tenant=ctx.tenant,
        api_key=ctx.api_key,
        customer=customer,
        payee=payee,
    )


async def tenant(info: Info) -> t.Tenant:
    return await query(lambda: tenants.get_tenant(info.context.caller))


async def api_key_list(info: Info) -> list[t.ApiKey]:
    return await query(lambda: api_keys.list_api_keys(info.context.caller))


async def update_tenant(info: Info, input: t.UpdateTenantInput) -> p.TenantResult:
    return await mutate(
        tenants.update_tenant(info.context.caller, to_data(input)),
        lambda row: p.TenantSuccess(tenant=row),
    )


async def create_api_key(info: Info, input: t.CreateApiKeyInput) -> p.CreateApiKeyResult:
    data = to_data(input)
    return await mutate(
        api_keys.create_api_key(
            info.context.caller,
            role=Role(data["role"]),
            name=data["name"],
            customer_public_id=data.get("customer_id"),
            payee_public_id=data.get("payee_id"),
            expires_at=data.get("expires_at"),
        ),
        lambda issued: p.CreateApiKeySuccess(api_key=issued.api_key, secret=issued.secret),
    )


async def create_portal_link(info: Info, customer_id: strawberry.ID) -> p.PortalLinkResult:
    return await mutate(
        web_sessions.create_portal_link(info.context.caller, customer_id, info.context.base_url),
        lambda link: p.PortalLinkSuccess(url=link.url, expires_at=link.expires_at),
    )


async def revoke_api_key(info: Info, id: strawberry.ID) -> p.ApiKeyResult:
    return await mutate(
        api_keys.revoke_api_key(info.context.caller, id),
        lambda row: p.ApiKeySuccess(api_key=row),
    )


async def tenant_events(
    info: Info, types: list[str] | None = None
) -> AsyncGenerator[t.TenantEvent, None]:
    """Every change in the caller's tenant as it commits; a customer token only
    sees events about its own customer."""
    sees = await live.audience(info, Permission.TENANT_READ)
    channel = tenant_channel(info.context.caller.tenant_id)
    async for event in live.events(info, channel, sees.customer_id):
        if types and event["type"] not in types:
            continue
        if not sees(event.get("customer_id")):
            continue
        yield t.TenantEvent(
            type=event["type"],
            object_id=strawberry.ID(event["object_id"]),
            occurred_at=datetime.fromisoformat(event["occurred_at"]),
        )
