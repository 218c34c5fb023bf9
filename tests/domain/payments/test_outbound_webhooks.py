"""Outbound webhooks: outbox events written with the change, delivered to a local
HTTP server and verified by an independent Standard Webhooks implementation; an
endpoint that is down then recovers; one that stays down is disabled (and the
tenant told); replays."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import timedelta

import httpx
import pytest
import uvicorn
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db.payment_models import MailMessage, WebhookDelivery, WebhookEndpoint, WebhookEvent
from domain import clock
from domain.webhooks.delivery import BACKOFF, deliver_due, replay_failed
from domain.webhooks.endpoints import create_endpoint, update_endpoint
from tests.factories import admin_of, make_customer, make_plan, make_subscription, make_tenant


class Receiver:
    """A partner's endpoint: verifies every request with `standardwebhooks`."""

    def __init__(self) -> None:
        self.secret = ""
        self.down = False
        self.received: list[dict] = []
        self.rejected = 0
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        # uvicorn says it listens only through `started`: poll it, bounded, and fail
        # at once if the server thread died (a port taken between bind and serve).
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.02)

    async def hook(self, request: Request) -> Response:
        if self.down:
            return Response(status_code=503)
        body = await request.body()
        try:
            Webhook(self.secret).verify(body, dict(request.headers))
        except Exception:
            self.rejected += 1
            return Response(status_code=401)
        self.received.append({"id": request.headers["webhook-id"], **json.loads(body)})
        return Response(status_code=204)


@pytest.fixture(scope="module")
def receiver():
    server = Receiver()
    yield server
    server.server.should_exit = True
    server.thread.join(10)


async def _drain() -> None:
    """Deliver everything pending now, and what other tests left, to the receiver."""
    async with httpx.AsyncClient() as http:
        await deliver_due(http)


async def test_events_are_signed_and_delivered_once(db, receiver) -> None:
    tenant = await make_tenant()
    endpoint, secret = await create_endpoint(
        admin_of(tenant),
        {
            "url": f"http://127.0.0.1:{receiver.port}/hook",
            "event_types": ["subscription.created", "invoice.finalized"],
        },
    )
    assert secret.startswith("whsec_") and secret not in endpoint.secret  # sealed at rest
    receiver.secret, receiver.down, receiver.received = secret, False, []
    customer = await make_customer(tenant=tenant)
    sub = await make_subscription(
        tenant=tenant, customer=customer, plan=await make_plan(tenant=tenant)
    )
    await _drain()
    mine = [r for r in receiver.received if r["data"].get("customer") == customer.public_id]
    assert sorted(r["type"] for r in mine) == ["invoice.finalized", "subscription.created"]
    assert {r["data"]["id"] for r in mine if r["type"] == "subscription.created"} == {sub.public_id}
    assert all(r["id"] == r["id"] and r["id"].startswith("evt_") for r in mine)
    assert receiver.rejected == 0
    await _drain()  # nothing is sent twice
    assert (
        len([r for r in receiver.received if r["data"].get("customer") == customer.public_id]) == 2
    )
    deliveries = await WebhookDelivery.filter(endpoint_id=endpoint.id)
    assert {d.status for d in deliveries} == {"succeeded"} and len(deliveries) == 2


async def test_a_down_endpoint_is_retried_with_backoff_then_recovers(db, receiver) -> None:
    tenant = await make_tenant()
    endpoint, secret = await create_endpoint(
        admin_of(tenant), {"url": f"http://127.0.0.1:{receiver.port}/hook", "event_types": ["*"]}
    )
    receiver.secret, receiver.down, receiver.received = secret, True, []
    await make_customer(tenant=tenant)
    await make_subscription(
        tenant=tenant,
        customer=await make_customer(tenant=tenant),
        plan=await make_plan(tenant=tenant),
    )
    now = clock.real_now()
    async with httpx.AsyncClient() as http:
        await deliver_due(http, now=now)
        failed = await WebhookDelivery.filter(endpoint_id=endpoint.id)
        assert {(d.status, d.attempts, d.last_status_code) for d in failed} == {("pending", 1, 503)}
        assert all(d.next_attempt_at == now + timedelta(seconds=BACKOFF[0]) for d in failed)
        await deliver_due(http, now=now + timedelta(seconds=1))  # not due yet: nothing sent
        assert {d.attempts for d in await WebhookDelivery.filter(endpoint_id=endpoint.id)} == {1}
        receiver.down = False
        await deliver_due(http, now=now + timedelta(seconds=BACKOFF[0]))
    done = await WebhookDelivery.filter(endpoint_id=endpoint.id)
    assert {(d.status, d.attempts) for d in done} == {("succeeded", 2)}
    assert (await WebhookEndpoint.get(id=endpoint.id)).failing_since is None
    assert len(receiver.received) == len(done)


async def test_an_endpoint_down_for_three_days_is_disabled_and_replayed_later(db, receiver) -> None:
    tenant = await make_tenant()
    tenant.billing_email = "ops@example.com"
    await tenant.save()
    admin = admin_of(tenant)
    endpoint, secret = await create_endpoint(
        admin,
        {"url": f"http://127.0.0.1:{receiver.port}/hook", "event_types": ["subscription.created"]},
    )
    receiver.secret, receiver.down, receiver.received = secret, True, []
    await make_subscription(
        tenant=tenant,
        customer=await make_customer(tenant=tenant),
        plan=await make_plan(tenant=tenant),
    )
    at = clock.real_now()
    async with httpx.AsyncClient() as http:
        await deliver_due(http, now=at)
        for wait in BACKOFF:
            at += timedelta(seconds=wait)
            await deliver_due(http, now=at)
    (delivery,) = await WebhookDelivery.filter(endpoint_id=endpoint.id)
    assert (delivery.status, delivery.attempts) == ("failed", len(BACKOFF) + 1)
    assert sum(BACKOFF) >= 71 * 3600  # about three days
    endpoint = await WebhookEndpoint.get(id=endpoint.id)
    assert endpoint.status == "disabled" and "failed since" in endpoint.disabled_reason
    assert await MailMessage.filter(tenant_id=tenant.id, kind="webhook_endpoint_disabled").exists()
    attempts = await delivery.attempt_log.all()
    assert len(attempts) == len(BACKOFF) + 1 and all(a.status_code == 503 for a in attempts)
    # The admin fixes it, enables it and replays what failed.
    receiver.down = False
    await update_endpoint(admin, endpoint.public_id, {"enabled": True})
    assert await replay_failed(admin, endpoint.public_id) == 1
    await _drain()
    assert [r["type"] for r in receiver.received] == ["subscription.created"]
    assert (await WebhookDelivery.get(id=delivery.id)).status == "succeeded"
    assert await WebhookEvent.filter(tenant_id=tenant.id, type="subscription.created").count() == 1
