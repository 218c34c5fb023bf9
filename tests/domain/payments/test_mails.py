"""The mail outbox's sender: each message sent once, failures retried then given up,
and a message left `sending` by a worker that died taken again after the lease."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta
from typing import Any

from db.payment_models import MailMessage
from domain import clock
from domain.payments import mails
from tests.factories import make_tenant

SENDER = "billing@tally.test"


async def _message(tenant: Any, key: str, **extra: Any) -> MailMessage:
    return await MailMessage.create(
        tenant_id=tenant.id,
        kind="reminder",
        to=f"Ada <{key}@example.com>",
        subject=f"About {key}",
        body="Your invoice is due.",
        dedupe_key=f"test:{key}",
        created_at=clock.real_now(),
        **extra,
    )


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"smtp://127.0.0.1:{probe.getsockname()[1]}"


async def test_pending_mail_is_sent_once(db: str, smtp: Any) -> None:
    url, inbox = smtp
    tenant = await make_tenant()
    message = await _message(tenant, "once")
    assert await mails.send_pending(url, SENDER) >= 1
    await mails.send_pending(url, SENDER)
    mine = [m for m in inbox.messages if m["To"] == message.to]
    assert len(mine) == 1 and mine[0]["Subject"] == "About once"
    stored = await MailMessage.get(id=message.id)
    assert (stored.status, stored.attempts, stored.sent_at is not None) == ("sent", 1, True)


async def test_failures_are_retried_then_given_up(db: str, smtp: Any) -> None:
    tenant = await make_tenant()
    message = await _message(tenant, "down")
    down = _closed_port_url()
    await mails.send_pending(down, SENDER)
    stored = await MailMessage.get(id=message.id)
    assert (stored.status, stored.attempts) == ("pending", 1) and stored.error
    for _ in range(mails.MAX_ATTEMPTS):
        await mails.send_pending(down, SENDER)
    stored = await MailMessage.get(id=message.id)
    assert (stored.status, stored.attempts) == ("failed", mails.MAX_ATTEMPTS)
    url, inbox = smtp
    await mails.send_pending(url, SENDER)  # a failed message is not tried again
    assert not [m for m in inbox.messages if m["To"] == message.to]


async def test_a_claim_older_than_the_lease_is_taken_again(db: str, smtp: Any) -> None:
    url, inbox = smtp
    tenant = await make_tenant()
    long_ago = clock.real_now() - mails.CLAIM_LEASE - timedelta(seconds=1)
    died = await _message(tenant, "died", status="sending", attempts=1, claimed_at=long_ago)
    unknown = await _message(tenant, "unknown", status="sending", attempts=1)  # before leases
    busy = await _message(tenant, "busy", status="sending", attempts=1, claimed_at=clock.real_now())
    last = await _message(
        tenant, "last", status="sending", attempts=mails.MAX_ATTEMPTS, claimed_at=long_ago
    )
    await mails.send_pending(url, SENDER)
    sent_to = [m["To"] for m in inbox.messages]
    assert died.to in sent_to and unknown.to in sent_to and busy.to not in sent_to
    assert last.to not in sent_to  # its last attempt was used up: given up, not retried
    gave_up = await MailMessage.get(id=last.id)
    assert (gave_up.status, gave_up.attempts) == ("failed", mails.MAX_ATTEMPTS)
    assert (await MailMessage.get(id=died.id)).attempts == 2
    assert (await MailMessage.get(id=busy.id)).status == "sending"


async def test_concurrent_senders_send_each_mail_once(db: str, smtp: Any) -> None:
    url, inbox = smtp
    tenant = await make_tenant()
    messages = [await _message(tenant, f"race{i}") for i in range(6)]
    await asyncio.gather(*(mails.send_pending(url, SENDER) for _ in range(4)))
    for message in messages:
        assert [m["To"] for m in inbox.messages].count(message.to) == 1
        assert (await MailMessage.get(id=message.id)).attempts == 1
