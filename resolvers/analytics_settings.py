"""The analytics settings (issue 17): read with analytics:read, changed by admin keys."""

from __future__ import annotations

from strawberry.types import Info

from domain.reports import settings as domain
from resolvers.common import mutate, query, to_data
from schema import analytics_settings as s


async def analytics_settings(info: Info) -> s.AnalyticsSettings:
    return s.settings_view(await query(lambda: domain.analytics_settings(info.context.caller)))


async def update_analytics_settings(
    info: Info, input: s.UpdateAnalyticsSettingsInput
) -> s.AnalyticsSettingsResult:
    return await mutate(
        domain.update_analytics_settings(info.context.caller, to_data(input)),
        lambda value: s.AnalyticsSettingsSuccess(settings=s.settings_view(value)),
    )
