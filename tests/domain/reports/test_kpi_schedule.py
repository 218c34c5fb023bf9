"""The analytics settings and the monthly KPI report by e-mail (issue 17): queued once
through the mail outbox for the month before, to the recipients or the billing
e-mail, sent with its PDF by the outbox worker; never twice, even by two runs at once
(PostgreSQL). Other tests' tenants share the database, so each test counts its own
tenant's messages."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from db.models import Tenant
from db.payment_models import MailMessage
from domain.errors import PermissionDeniedError, ValidationError
from domain.payments import mails
from domain.reports.kpi_schedule import KIND, send_due_kpi_reports
from domain.reports.settings import (
    MAX_RECIPIENTS,
    AnalyticsSettings,
    analytics_settings,
    update_analytics_settings,
)
from domain.tenancy.access import Principal, Role
from tests.conftest import BACKEND
from tests.domain.reports.kpi_book import KpiBook, kpi_book
from tests.factories import admin_of, make_tenant

SENDER = "reports@tally.test"
MARCH_1 = datetime(2026, 3, 1, 6, tzinfo=UTC)


async def _opted_in(**settings: Any) -> KpiBook:
    """The book's tenant, there since 2025, mailing its report to billing@acme.test."""
    book = await kpi_book()
    await Tenant.filter(id=book.tenant.id).update(
        created_at=datetime(2025, 1, 1, tzinfo=UTC), billing_email="billing@acme.test"
    )
    await update_analytics_settings(book.admin, {"kpi_report_email": True, **settings})
    return book


async def _messages(book: KpiBook) -> list[MailMessage]:
    return await MailMessage.filter(tenant_id=book.tenant.id, kind=KIND).order_by("id")


async def _stored(book: KpiBook) -> dict[str, Any]:
    return (await Tenant.get(id=book.tenant.id)).analytics_settings  # type: ignore[no-any-return]


# -- settings ---------------------------------------------------------------------------


async def test_settings_default_validate_and_keep_what_they_do_not_know(db: str) -> None:
    tenant = await make_tenant()
    admin = admin_of(tenant)
    assert await analytics_settings(admin) == AnalyticsSettings()
    await Tenant.filter(id=tenant.id).update(
        billing_email="ap@acme.test", analytics_settings={"reporting_currency": "EUR"}
    )
    got = await update_analytics_settings(admin, {"kpi_report_email": True})
    assert (got.kpi_report_email, got.sends_to) == (True, ("ap@acme.test",))
    got = await update_analytics_settings(
        admin, {"kpi_report_recipients": [" CFO@acme.test", "cfo@ACME.test", "ops@acme.test"]}
    )
    assert got.kpi_report_recipients == ("CFO@acme.test", "ops@acme.test")
    assert got.sends_to == got.kpi_report_recipients and got.kpi_report_email
    stored = (await Tenant.get(id=tenant.id)).analytics_settings
    assert stored == {
        "reporting_currency": "EUR",
        "kpi_report_email": True,
        "kpi_report_recipients": ["CFO@acme.test", "ops@acme.test"],
        "kpi_report_last_month": None,
    }
    refused = [
        {"kpi_report_recipients": ["not an address"]},
        {"kpi_report_recipients": [""]},
        {"kpi_report_recipients": [f"r{i}@acme.test" for i in range(MAX_RECIPIENTS + 1)]},
        {"kpi_report_recipients": "cfo@acme.test"},
        {"kpi_report_email": "yes"},
        {"kpi_report_last_month": "2026-01"},  # the schedule's, not the caller's
    ]
    for raw in refused:
        with pytest.raises(ValidationError):
            await update_analytics_settings(admin, raw)
    assert (await Tenant.get(id=tenant.id)).analytics_settings == stored
    analyst = Principal(tenant.id, Role.ANALYST, 0)
    assert (await analytics_settings(analyst)).kpi_report_email
    with pytest.raises(PermissionDeniedError):
        await update_analytics_settings(analyst, {"kpi_report_email": False})
    with pytest.raises(PermissionDeniedError):
        await analytics_settings(Principal(tenant.id, Role.SERVICE, 0))


# -- the schedule -----------------------------------------------------------------------


async def test_last_months_report_is_queued_once_and_sent_with_its_pdf(db: str, smtp: Any) -> None:
    book = await _opted_in()
    before = await MailMessage.filter(kind=KIND).count()
    queued = await send_due_kpi_reports(MARCH_1)
    assert queued == await MailMessage.filter(kind=KIND).count() - before >= 1
    (message,) = await _messages(book)
    assert (message.to, message.status) == ("billing@acme.test", "pending")
    assert "February 2026" in message.subject and book.tenant.name in message.subject
    assert message.body.startswith(mails.MIME_MARK)
    assert (await _stored(book))["kpi_report_last_month"] == "2026-02"
    # Claimed: later runs of the month queue nothing more for it.
    await send_due_kpi_reports(MARCH_1)
    await send_due_kpi_reports(datetime(2026, 3, 31, 23, tzinfo=UTC))
    assert len(await _messages(book)) == 1

    url, inbox = smtp
    await mails.send_pending(url, SENDER, limit=10_000)
    (sent,) = [m for m in inbox.messages if m["To"] == "billing@acme.test"]
    assert sent["Subject"] == message.subject and sent["From"] == SENDER
    parts = {part.get_content_type(): part for part in sent.walk()}
    assert "€40.00" in parts["text/plain"].get_payload(decode=True).decode()
    pdf = parts["application/pdf"]
    assert pdf.get_filename() == "kpi-report-2026-02.pdf"
    assert pdf.get_payload(decode=True).startswith(b"%PDF")
    assert (await MailMessage.get(id=message.id)).status == "sent"
    # April: March's report, once.
    await send_due_kpi_reports(datetime(2026, 4, 1, tzinfo=UTC))
    assert ["February" in m.subject for m in await _messages(book)] == [True, False]
    assert (await _stored(book))["kpi_report_last_month"] == "2026-03"


async def test_recipients_and_the_tenants_language(db: str) -> None:
    book = await _opted_in(kpi_report_recipients=["cfo@acme.test", "ops@acme.test"])
    await Tenant.filter(id=book.tenant.id).update(default_locale="fr")
    await send_due_kpi_reports(MARCH_1)
    messages = await _messages(book)
    assert [m.to for m in messages] == ["cfo@acme.test", "ops@acme.test"]
    assert all("février 2026" in m.subject for m in messages)


async def test_who_gets_nothing(db: str, caplog: pytest.LogCaptureFixture) -> None:
    # Opted in with nowhere to send: skipped, logged, left unclaimed.
    nowhere = await _opted_in()
    await Tenant.filter(id=nowhere.tenant.id).update(billing_email=None)
    # Opted out again; and a tenant that did not exist in February.
    out = await _opted_in()
    await update_analytics_settings(out.admin, {"kpi_report_email": False})
    late = await _opted_in()
    await Tenant.filter(id=late.tenant.id).update(created_at=datetime(2026, 3, 1, tzinfo=UTC))
    with caplog.at_level(logging.WARNING, logger="tally.reports"):
        await send_due_kpi_reports(MARCH_1)
    for book in (nowhere, out, late):
        assert await _messages(book) == []
        assert (await _stored(book))["kpi_report_last_month"] is None
    assert any(
        nowhere.tenant.public_id in r.getMessage() and "no recipient" in r.getMessage()
        for r in caplog.records
    )
    # Once an address is set, the next run sends it.
    await update_analytics_settings(nowhere.admin, {"kpi_report_recipients": ["cfo@acme.test"]})
    await send_due_kpi_reports(MARCH_1)
    assert [m.to for m in await _messages(nowhere)] == ["cfo@acme.test"]


@pytest.mark.postgres
@pytest.mark.skipif(BACKEND != "postgres", reason="row locks exist on PostgreSQL only")
async def test_two_runs_at_once_queue_one_mail(db: str, caplog: pytest.LogCaptureFixture) -> None:
    book = await _opted_in()
    before = await MailMessage.filter(kind=KIND).count()
    with caplog.at_level(logging.INFO, logger="tally.reports"):
        first, second = await asyncio.gather(
            send_due_kpi_reports(MARCH_1), send_due_kpi_reports(MARCH_1)
        )
    assert len(await _messages(book)) == 1
    # Both rendered it; the second found the month claimed under the lock (not a
    # duplicate refused by the outbox's unique key, which would be logged as an error).
    assert [r.levelno for r in caplog.records if book.tenant.public_id in r.getMessage()] == [
        logging.INFO
    ]
    assert first + second == await MailMessage.filter(kind=KIND).count() - before
    assert (await _stored(book))["kpi_report_last_month"] == "2026-02"
