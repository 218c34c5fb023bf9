"""The monthly KPI report by e-mail (issue 17): once the 1st of a month has come, each
tenant that opted in (`kpi_report_email`) gets the report of the month before, once,
through the mail outbox (`domain/payments/mails.py`), sent after commit by
`mails.send_pending` like every other outbox mail. `python server.py bill`, which
operators cron, calls `send_due_kpi_reports` before it empties the outbox.

Exactly once: the month is claimed under the tenant's row lock (`select_for_update`),
re-reading the settings there, and the outbox rows are written with
`kpi_report_last_month` in the same transaction. Two runs at once both render (the
PDF is made before the lock, so the lock is held for a few inserts, not for
rendering), one queues, the other finds the month claimed. A crash before the commit
claims nothing; the next run tries again.

Only the month before `now` is sent: a run that missed months (no cron for a while)
does not send a backlog. A tenant that opts in mid-month gets last month's report on
the next run; a tenant created after a month ended gets none for it. No recipient
(none set and no billing e-mail): skipped and logged on each run, unclaimed, so the
report goes once an address is set.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from db.models import Tenant
from db.payment_models import MailMessage
from domain import clock
from domain.invoicing.i18n import language
from domain.money import format_money
from domain.payments.mails import mime_body
from domain.reports.kpi_i18n import label
from domain.reports.kpi_report import file_name, kpi_pdf
from domain.reports.kpis import Month, MonthlyKpis, last_complete_month, monthly_kpis
from domain.reports.settings import AnalyticsSettings
from domain.royalties.statement_i18n import period_text
from domain.tenancy.access import Principal, Role
from domain.unit_of_work import operation

log = logging.getLogger("tally.reports")
KIND = "kpi_report"


def _due(settings: AnalyticsSettings, month: Month) -> bool:
    last = settings.kpi_report_last_month
    return settings.kpi_report_email and (last is None or last < str(month))


def compose(kpis: MonthlyKpis, tenant: str, locale: str | None) -> tuple[str, str]:
    """(subject, text) of the report's mail: its MRR at the month's end per currency."""
    lang = language(locale)
    month = period_text(kpis.month, lang)
    figures = "\n".join(
        f"{label('mrr_end', lang)} ({c.currency}): {format_money(c.mrr.mrr_end, c.currency, lang)}"
        for c in kpis.currencies
    ) or label("nothing", lang)
    subject = label("mail_subject", lang, tenant=tenant, month=month)
    return subject, label("mail_body", lang, tenant=tenant, month=month, figures=figures)


async def send_due_kpi_reports(now: datetime) -> int:
    """Queue the report of the month before `now` for every tenant due; the number of
    messages queued (one per recipient). A tenant whose report fails is logged and
    the others still go."""
    month = last_complete_month(now)
    rows = await Tenant.filter(analytics_settings__isnull=False).order_by("id")
    queued = 0
    for tenant in rows:
        settings = AnalyticsSettings.of(tenant.analytics_settings, tenant.billing_email)
        if not _due(settings, month) or tenant.created_at >= month.end:
            continue
        if not settings.sends_to:
            log.warning(
                "KPI report %s of %s not sent: no recipient (set kpiReportRecipients or the"
                " tenant's billingEmail)",
                month,
                tenant.public_id,
            )
            continue
        try:
            principal = Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id=0)
            kpis = await monthly_kpis(principal, str(month))
            name, locale = tenant.name, tenant.default_locale
            pdf = await asyncio.to_thread(kpi_pdf, kpis, tenant=name, locale=locale)
            subject, text = compose(kpis, name, locale)
            body = mime_body(text, [(file_name(kpis.month), "application/pdf", pdf)])
            queued += await _queue(tenant.id, month, subject, body)
        except Exception:
            log.exception("KPI report %s of %s failed", month, tenant.public_id)
    return queued


@operation
async def _queue(tenant_id: int, month: Month, subject: str, body: str) -> int:
    """Claim `month` under the tenant's row lock and write its messages, or nothing if
    another run claimed it (or the tenant opted out) meanwhile."""
    tenant = await Tenant.select_for_update().get(id=tenant_id)
    settings = AnalyticsSettings.of(tenant.analytics_settings, tenant.billing_email)
    if not _due(settings, month) or not settings.sends_to:
        return 0
    at = clock.now()
    written = 0
    for address in settings.sends_to:
        key = f"{KIND}:{tenant.public_id}:{month}:{address.lower()}"[:160]
        if await MailMessage.filter(dedupe_key=key).exists():
            continue
        await MailMessage.create(
            tenant_id=tenant.id,
            kind=KIND,
            to=address,
            subject=subject[:300],
            body=body,
            dedupe_key=key,
            created_at=at,
        )
        written += 1
    tenant.analytics_settings = AnalyticsSettings(
        settings.kpi_report_email, settings.kpi_report_recipients, str(month)
    ).stored(tenant.analytics_settings)
    tenant.updated_at = at
    await tenant.save(update_fields=["analytics_settings", "updated_at"])
    log.info("KPI report %s of %s queued for %d recipients", month, tenant.public_id, written)
    return written
