"""Delivering the outbox: fan each event out to the endpoints that want it, then
POST it signed the Standard Webhooks way, retrying with exponential backoff over
about three days. A delivery is claimed by pushing its next attempt a lease
ahead before the request, so several workers never send it at once and a worker
that dies mid-request only delays it. Receivers dedupe on `webhook-id`.

An endpoint whose deliveries keep failing for the whole schedule, with no
success in between, is disabled and the tenant is told by e-mail.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timedelta

import httpx
from tortoise.transactions import in_transaction

from db.bulk import insert_many
from db.models import Tenant
from db.payment_models import (
    MailMessage,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from domain import clock
from domain.errors import ConflictError, NotFoundError
from domain.ids import check_id
from domain.tenancy.access import Permission, Principal
from domain.webhooks.endpoints import load_endpoint, open_secret
from domain.webhooks.signing import headers

log = logging.getLogger("tally.webhooks")

# Seconds after each failed attempt: 5 s, 1 min, 5 min, 30 min, 2 h, 5 h, 10 h,
# 14 h, 20 h, 20 h — about 72 hours from the first attempt to the last.
BACKOFF = (5, 60, 300, 1800, 7200, 18000, 36000, 50400, 72000, 72000)
LEASE = timedelta(seconds=60)
TIMEOUT = 10.0
CONCURRENCY = 16
DISPATCH_BATCH = 500


def wants(endpoint: WebhookEndpoint, type_: str) -> bool:
    return "*" in endpoint.event_types or type_ in endpoint.event_types


async def dispatch(now: datetime | None = None, limit: int = DISPATCH_BATCH) -> int:
    """Turn up to `limit` undispatched events into one delivery per interested,
    enabled endpoint (an endpoint registered before this pass gets the events still
    waiting in the outbox); returns how many events it took."""
    async with in_transaction():
        events = (
            await WebhookEvent.filter(dispatched=False)
            .order_by("id")
            .limit(limit)
            .select_for_update(skip_locked=True)
        )
        if not events:
            return 0
        endpoints: dict[int, list[WebhookEndpoint]] = {}
        for endpoint in await WebhookEndpoint.filter(
            tenant_id__in=sorted({e.tenant_id for e in events}), status="enabled"
        ):
            endpoints.setdefault(endpoint.tenant_id, []).append(endpoint)
        now = now or clock.real_now()
        rows = [
            (e.tenant_id, e.id, ep.id, "pending", 0, now, now, now)
            for e in events
            for ep in endpoints.get(e.tenant_id, [])
            if wants(ep, e.type)
        ]
        await insert_many(
            WebhookDelivery,
            (
                "tenant_id",
                "event_id",
                "endpoint_id",
                "status",
                "attempts",
                "next_attempt_at",
                "created_at",
                "updated_at",
            ),
            rows,
        )
        await WebhookEvent.filter(id__in=[e.id for e in events]).update(dispatched=True)
    return len(events)


async def _claim(now: datetime, limit: int) -> list[WebhookDelivery]:
    async with in_transaction():
        due = (
            await WebhookDelivery.filter(status="pending", next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .limit(limit)
            .select_for_update(skip_locked=True)
        )
        if due:
            await WebhookDelivery.filter(id__in=[d.id for d in due]).update(
                next_attempt_at=now + LEASE
            )
        return list(due)


async def _send(
    client: httpx.AsyncClient, delivery: WebhookDelivery
) -> tuple[int | None, str | None, int]:
    event = await WebhookEvent.get(id=delivery.event_id)
    endpoint = await WebhookEndpoint.get(id=delivery.endpoint_id)
    body = json.dumps(event.payload, separators=(",", ":"), sort_keys=True).encode()
    try:
        secret = open_secret(endpoint)
    except ValueError:  # sealed under another TALLY_SECRET_KEY: counted as a failure
        return None, "the endpoint secret cannot be decrypted (TALLY_SECRET_KEY changed?)", 0
    signed = headers(secret, event.public_id, int(time.time()), body)
    started = time.perf_counter()
    try:
        # The outer bound also covers name resolution, which httpx's timeout does not.
        response = await asyncio.wait_for(
            client.post(endpoint.url, content=body, headers=signed, timeout=TIMEOUT),
            TIMEOUT + 2,
        )
        code, error = response.status_code, None
    except (httpx.HTTPError, TimeoutError) as exc:
        code, error = None, f"{type(exc).__name__}: {exc}"[:300]
    return code, error, int((time.perf_counter() - started) * 1000)


async def _record(
    delivery: WebhookDelivery, code: int | None, error: str | None, latency: int, now: datetime
) -> None:
    ok = code is not None and 200 <= code < 300
    async with in_transaction():
        await WebhookAttempt.create(
            delivery_id=delivery.id,
            status_code=code,
            error=error,
            latency_ms=latency,
            attempted_at=now,
        )
        delivery.attempts += 1
        delivery.last_status_code = code
        delivery.updated_at = now
        endpoint = await WebhookEndpoint.filter(id=delivery.endpoint_id).select_for_update().get()
        if ok:
            delivery.status, delivery.next_attempt_at = "succeeded", None
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                await endpoint.save(update_fields=["failing_since"])
        else:
            if endpoint.failing_since is None:
                endpoint.failing_since = now
                await endpoint.save(update_fields=["failing_since"])
            if delivery.attempts > len(BACKOFF):
                delivery.status, delivery.next_attempt_at = "failed", None
                await _maybe_disable(endpoint, now)
            else:
                delivery.next_attempt_at = now + timedelta(seconds=BACKOFF[delivery.attempts - 1])
        await delivery.save()


async def _maybe_disable(endpoint: WebhookEndpoint, now: datetime) -> None:
    """A delivery used up its schedule and nothing succeeded since the failures
    began: the endpoint is down for good. Disable it and tell the tenant."""
    if endpoint.status != "enabled" or endpoint.failing_since is None:
        return
    if now - endpoint.failing_since < timedelta(seconds=sum(BACKOFF)):
        return
    endpoint.status = "disabled"
    endpoint.disabled_reason = f"every delivery failed since {endpoint.failing_since.isoformat()}"
    endpoint.updated_at = now
    await endpoint.save()
    tenant = await Tenant.get(id=endpoint.tenant_id)
    if tenant.billing_email:
        await MailMessage.get_or_create(
            dedupe_key=f"{endpoint.public_id}:disabled:{int(now.timestamp())}",
            defaults={
                "tenant_id": tenant.id,
                "kind": "webhook_endpoint_disabled",
                "to": tenant.billing_email,
                "subject": f"Tally disabled your webhook endpoint {endpoint.url}"[:300],
                "body": (
                    f"Every delivery to {endpoint.url} has failed since "
                    f"{endpoint.failing_since.isoformat()}, so Tally stopped sending to it.\n"
                    "Fix the endpoint, enable it again (updateWebhookEndpoint) and replay the "
                    "failed events (replayFailedWebhooks)."
                ),
                "created_at": now,
            },
        )
    log.warning("webhook endpoint %s disabled", endpoint.public_id)


async def deliver_due(
    client: httpx.AsyncClient, *, now: datetime | None = None, limit: int = 200
) -> int:
    """One pass: dispatch new events, then send every delivery that is due."""
    now = now or clock.real_now()
    while await dispatch(now) == DISPATCH_BATCH:
        pass
    sent = 0
    gate = asyncio.Semaphore(CONCURRENCY)
    while True:
        due = await _claim(now, limit)
        if not due:
            return sent
        disabled = set(
            await WebhookEndpoint.filter(
                id__in=sorted({d.endpoint_id for d in due}), status="disabled"
            ).values_list("id", flat=True)
        )

        async def one(delivery: WebhookDelivery, disabled: set[int] = disabled) -> None:
            if delivery.endpoint_id in disabled:
                # Kept for a replay once the endpoint is enabled again.
                await WebhookDelivery.filter(id=delivery.id).update(
                    status="failed", next_attempt_at=None
                )
                return
            async with gate:
                code, error, latency = await _send(client, delivery)
            await _record(delivery, code, error, latency, now)

        await asyncio.gather(*(one(d) for d in due))
        sent += len(due)


async def replay_event(principal: Principal, event_id: str, endpoint_id: str | None = None) -> int:
    """Send one event again (to one endpoint, or every endpoint that wants it)."""
    principal.require(Permission.WEBHOOKS)
    check_id(event_id, "webhook_event", field="eventId")
    event = await WebhookEvent.get_or_none(public_id=event_id, tenant_id=principal.tenant_id)
    if event is None:
        raise NotFoundError(f"no webhook event {event_id}", field="eventId")
    if endpoint_id is not None:
        endpoints = [await load_endpoint(principal, endpoint_id, field="endpointId")]
    else:
        endpoints = [
            e
            for e in await WebhookEndpoint.filter(tenant_id=principal.tenant_id)
            if wants(e, event.type)
        ]
    for endpoint in endpoints:
        if endpoint.status != "enabled":
            raise ConflictError(
                f"endpoint {endpoint.public_id} is disabled; enable it first",
                field="endpointId",
                code="ENDPOINT_DISABLED",
            )
    now = clock.real_now()
    for endpoint in endpoints:
        delivery, created = await WebhookDelivery.get_or_create(
            event_id=event.id,
            endpoint_id=endpoint.id,
            defaults={
                "tenant_id": principal.tenant_id,
                "created_at": now,
                "updated_at": now,
                "next_attempt_at": now,
            },
        )
        if not created:
            delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
            delivery.updated_at = now
            await delivery.save()
    return len(endpoints)


async def replay_failed(principal: Principal, endpoint_id: str) -> int:
    """Queue every failed delivery of an (enabled) endpoint again."""
    endpoint = await load_endpoint(principal, endpoint_id, field="endpointId")
    if endpoint.status != "enabled":
        raise ConflictError(
            f"endpoint {endpoint.public_id} is disabled; enable it first",
            field="endpointId",
            code="ENDPOINT_DISABLED",
        )
    now = clock.real_now()
    return await WebhookDelivery.filter(endpoint_id=endpoint.id, status="failed").update(
        status="pending", attempts=0, next_attempt_at=now, updated_at=now
    )


async def worker_loop(client: httpx.AsyncClient, interval: float) -> None:
    while True:
        try:
            await deliver_due(client)
        except Exception:
            log.exception("webhook delivery pass failed; retrying")
        await asyncio.sleep(interval)
