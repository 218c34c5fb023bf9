"""Webhook endpoints a tenant registers: URL, event types and a secret shown once."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tortoise.transactions import in_transaction

from db.payment_models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from domain import clock, validation
from domain.errors import NotFoundError, ValidationError
from domain.ids import check_id, new_id
from domain.pagination import Page, PageRequest, narrowed_to, paginate
from domain.secrets_box import box
from domain.tenancy.access import Permission, Principal
from domain.webhooks.outbox import EVENT_TYPES
from domain.webhooks.signing import new_secret

MAX_ENDPOINTS = 16


def _url(value: str) -> str:
    value = (value or "").strip()
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or len(value) > 2000:
        raise ValidationError("url must be an http(s) URL", field="url")
    return value


def _types(values: list[str]) -> list[str]:
    if not values:
        raise ValidationError('give at least one event type (or "*")', field="eventTypes")
    for value in values:
        if value != "*" and value not in EVENT_TYPES:
            raise ValidationError(
                f"unknown event type {value!r}; known: {', '.join(EVENT_TYPES)}",
                field="eventTypes",
            )
    return sorted(set(values))


def seal_secret(tenant_id: int, secret: str) -> str:
    return box().encrypt(secret, context=f"tenant:{tenant_id}:webhook_endpoint")


def open_secret(endpoint: WebhookEndpoint) -> str:
    return box().decrypt(endpoint.secret, context=f"tenant:{endpoint.tenant_id}:webhook_endpoint")


async def create_endpoint(
    principal: Principal, data: dict[str, Any]
) -> tuple[WebhookEndpoint, str]:
    """The endpoint and its signing secret, which is never shown again."""
    principal.require(Permission.WEBHOOKS)
    url = _url(data.get("url") or "")
    types = _types(data.get("event_types") or [])
    secret = new_secret()
    now = clock.now()
    async with in_transaction():
        if await WebhookEndpoint.filter(tenant_id=principal.tenant_id).count() >= MAX_ENDPOINTS:
            raise ValidationError(f"at most {MAX_ENDPOINTS} endpoints", field="url")
        endpoint = await WebhookEndpoint.create(
            public_id=new_id("webhook_endpoint"),
            tenant_id=principal.tenant_id,
            url=url,
            description=validation.text(
                data.get("description"), field="description", max_length=200
            ),
            event_types=types,
            secret=seal_secret(principal.tenant_id, secret),
            created_at=now,
            updated_at=now,
        )
    return endpoint, secret


async def load_endpoint(
    principal: Principal, public_id: str, *, field: str = "id"
) -> WebhookEndpoint:
    principal.require(Permission.WEBHOOKS)
    check_id(public_id, "webhook_endpoint", field=field)
    endpoint = await WebhookEndpoint.get_or_none(public_id=public_id, tenant_id=principal.tenant_id)
    if endpoint is None:
        raise NotFoundError(f"no webhook endpoint {public_id}", field=field)
    return endpoint


async def update_endpoint(
    principal: Principal, public_id: str, data: dict[str, Any]
) -> WebhookEndpoint:
    endpoint = await load_endpoint(principal, public_id)
    if "url" in data:
        endpoint.url = _url(data["url"])
    if "event_types" in data:
        endpoint.event_types = _types(data["event_types"] or [])
    if "description" in data:
        endpoint.description = validation.text(
            data["description"], field="description", max_length=200
        )
    if data.get("enabled") is True:
        endpoint.status, endpoint.disabled_reason, endpoint.failing_since = "enabled", None, None
    elif data.get("enabled") is False:
        endpoint.status, endpoint.disabled_reason = "disabled", "disabled by an admin"
    endpoint.updated_at = clock.now()
    await endpoint.save()
    return endpoint


async def delete_endpoint(principal: Principal, public_id: str) -> WebhookEndpoint:
    endpoint = await load_endpoint(principal, public_id)
    await endpoint.delete()
    return endpoint


async def list_endpoints(principal: Principal, page: PageRequest) -> Page[WebhookEndpoint]:
    principal.require(Permission.WEBHOOKS)  # URLs may carry secrets: managers only
    return await paginate(WebhookEndpoint.filter(tenant_id=principal.tenant_id), page)


async def list_deliveries(
    principal: Principal,
    page: PageRequest,
    *,
    endpoint_id: str | None = None,
    event_id: str | None = None,
    status: str | None = None,
) -> Page[WebhookDelivery]:
    principal.require(Permission.WEBHOOKS_READ)
    # The log shows each delivery's event, endpoint and attempts: fetched per page,
    # not per row.
    query = WebhookDelivery.filter(tenant_id=principal.tenant_id).prefetch_related(
        "event", "endpoint", "attempt_log"
    )
    if endpoint_id is not None:
        query = query.filter(
            endpoint_id=(await load_endpoint(principal, endpoint_id, field="endpointId")).id
        )
    query = narrowed_to(query, "event", event_id, "webhook_event", field="eventId")
    if status is not None:
        query = query.filter(status=status)
    return await paginate(query, page)


async def list_events(
    principal: Principal, page: PageRequest, *, type_: str | None = None
) -> Page[WebhookEvent]:
    principal.require(Permission.WEBHOOKS_READ)
    query = WebhookEvent.filter(tenant_id=principal.tenant_id)
    if type_ is not None:
        query = query.filter(type=type_)
    return await paginate(query, page)
