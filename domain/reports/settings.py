"""A tenant's analytics settings: the monthly KPI report by e-mail (issue 17).

Stored as `Tenant.analytics_settings` (null is every default); keys this module does
not know are kept as they are:

    {"kpi_report_email": false,          # opted in to the monthly mail
     "kpi_report_recipients": [],        # at most 10; empty: the tenant's billing_email
     "kpi_report_last_month": null}      # the last month queued (YYYY-MM), the schedule's

`kpi_report_last_month` belongs to the schedule (`kpi_schedule.py`), which writes it
under the tenant's row lock in the transaction that queues the mail; an update takes
the same lock, so neither overwrites the other's change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from db.models import Tenant
from domain import clock, validation
from domain.errors import ValidationError
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation

MAX_RECIPIENTS = 10


@dataclass(frozen=True, slots=True)
class AnalyticsSettings:
    kpi_report_email: bool = False
    kpi_report_recipients: tuple[str, ...] = ()
    kpi_report_last_month: str | None = None
    billing_email: str | None = None  # the tenant's, not stored here: the default recipient

    @classmethod
    def of(
        cls, stored: Mapping[str, Any] | None, billing_email: str | None = None
    ) -> AnalyticsSettings:
        stored = stored or {}
        return cls(
            bool(stored.get("kpi_report_email", False)),
            tuple(stored.get("kpi_report_recipients") or ()),
            stored.get("kpi_report_last_month"),
            billing_email or None,
        )

    @property
    def sends_to(self) -> tuple[str, ...]:
        """Where the report goes: the recipients, else the billing e-mail, else nowhere."""
        if self.kpi_report_recipients:
            return self.kpi_report_recipients
        return (self.billing_email,) if self.billing_email else ()

    def stored(self, previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {
            **(previous or {}),
            "kpi_report_email": self.kpi_report_email,
            "kpi_report_recipients": list(self.kpi_report_recipients),
            "kpi_report_last_month": self.kpi_report_last_month,
        }


def recipients(value: object, *, field: str = "kpiReportRecipients") -> tuple[str, ...]:
    """At most MAX_RECIPIENTS e-mail addresses, each checked, duplicates (whatever
    their case) dropped, in the order given."""
    if not isinstance(value, list | tuple):
        raise ValidationError("give a list of e-mail addresses", field=field)
    if len(value) > MAX_RECIPIENTS:
        raise ValidationError(f"at most {MAX_RECIPIENTS} recipients", field=field)
    out: dict[str, str] = {}
    for item in value:
        address = validation.email(item if isinstance(item, str) else None, field=field)
        if address is None:
            raise ValidationError("an empty recipient is not an e-mail address", field=field)
        out.setdefault(address.lower(), address)
    return tuple(out.values())


async def analytics_settings(principal: Principal) -> AnalyticsSettings:
    principal.require(Permission.ANALYTICS_READ)
    row = await Tenant.get(id=principal.tenant_id)
    return AnalyticsSettings.of(row.analytics_settings, row.billing_email)


@operation
async def update_analytics_settings(
    principal: Principal, raw: Mapping[str, Any]
) -> AnalyticsSettings:
    """Change what `raw` names (kpi_report_email, kpi_report_recipients); the rest
    keeps its value. Admin keys only (tenant:write)."""
    principal.require(Permission.TENANT_WRITE)
    unknown = set(raw) - {"kpi_report_email", "kpi_report_recipients"}
    if unknown:
        raise ValidationError(f"unknown setting {sorted(unknown)[0]}", field=sorted(unknown)[0])
    tenant = await Tenant.select_for_update().get(id=principal.tenant_id)
    current = AnalyticsSettings.of(tenant.analytics_settings, tenant.billing_email)
    enabled = raw.get("kpi_report_email", current.kpi_report_email)
    if not isinstance(enabled, bool):
        raise ValidationError("kpiReportEmail is true or false", field="kpiReportEmail")
    chosen = current.kpi_report_recipients
    if raw.get("kpi_report_recipients") is not None:
        chosen = recipients(raw["kpi_report_recipients"])
    settings = AnalyticsSettings(
        enabled, chosen, current.kpi_report_last_month, tenant.billing_email
    )
    tenant.analytics_settings = settings.stored(tenant.analytics_settings)
    tenant.updated_at = clock.now()
    await tenant.save(update_fields=["analytics_settings", "updated_at"])
    return settings
