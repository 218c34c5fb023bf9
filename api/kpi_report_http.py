"""`GET /v1/kpi-reports/{YYYY-MM}.pdf`: the monthly KPI report of the caller's tenant
as a PDF in the tenant's language, for admin and analyst keys (analytics:read).
Errors as every download (api/downloads.py): a malformed month, or one that has not
started, has no report (404)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.downloads import download
from domain.reports.kpi_report import kpi_report_file


async def kpi_report_document(request: Request) -> Response:
    return await download(
        request, lambda principal: kpi_report_file(principal, request.path_params["month"])
    )
