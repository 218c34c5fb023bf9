"""The analytics settings on the wire (issue 17): the monthly KPI report by e-mail."""

from __future__ import annotations

import strawberry

from domain.reports.settings import AnalyticsSettings as SettingsValue
from schema.common import not_null_when_given, result_union


@strawberry.type(description="The monthly KPI report by e-mail (admin keys change it).")
class AnalyticsSettings:
    kpi_report_email: bool = strawberry.field(
        description="Mail each month's KPI report (PDF) once the month has ended, through"
        " the mail outbox (the `bill` command queues it)."
    )
    kpi_report_recipients: list[str] = strawberry.field(
        description="Where it goes (at most 10); empty: the tenant's billingEmail."
    )
    kpi_report_sends_to: list[str] = strawberry.field(
        description="The addresses the next report goes to; empty: none is sent."
    )
    kpi_report_last_month: str | None = strawberry.field(
        description="The last month whose report was queued (YYYY-MM)."
    )


def settings_view(value: SettingsValue) -> AnalyticsSettings:
    return AnalyticsSettings(
        kpi_report_email=value.kpi_report_email,
        kpi_report_recipients=list(value.kpi_report_recipients),
        kpi_report_sends_to=list(value.sends_to),
        kpi_report_last_month=value.kpi_report_last_month,
    )


@strawberry.input
class UpdateAnalyticsSettingsInput:
    kpi_report_email: bool | None = not_null_when_given(description="Mail the monthly KPI report.")
    kpi_report_recipients: list[str] | None = not_null_when_given(
        description="At most 10 e-mail addresses; [] sends to the tenant's billingEmail."
    )


@strawberry.type
class AnalyticsSettingsSuccess:
    settings: AnalyticsSettings


AnalyticsSettingsResult = result_union("AnalyticsSettingsResult", AnalyticsSettingsSuccess)
