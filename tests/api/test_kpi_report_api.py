"""The KPI report over HTTP (`GET /v1/kpi-reports/{YYYY-MM}.pdf`) and the analytics
settings over GraphQL (issue 17): admin and analyst keys read, admin keys change,
others are refused; another tenant downloads its own report, never this one."""

from __future__ import annotations

import io

import httpx
from pypdf import PdfReader

from domain.tenancy.access import Role
from tests.api.helpers import data, gql, post
from tests.domain.reports.kpi_book import kpi_book
from tests.factories import make_key, make_tenant

SETTINGS = "{ analyticsSettings { kpiReportEmail kpiReportRecipients kpiReportSendsTo kpiReportLastMonth } }"
UPDATE = """
mutation($input: UpdateAnalyticsSettingsInput!) {
  updateAnalyticsSettings(input: $input) {
    __typename
    ... on AnalyticsSettingsSuccess { settings { kpiReportEmail kpiReportRecipients } }
    ... on ValidationError { code field message }
  }
}
"""


async def _get(client: httpx.AsyncClient, key: str | None, month: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await client.get(f"/v1/kpi-reports/{month}.pdf", headers=headers)


def _text(pdf: bytes) -> str:
    return " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


async def test_the_report_downloads_for_admin_and_analyst_keys(client: httpx.AsyncClient) -> None:
    book = await kpi_book()
    for role in (Role.ADMIN, Role.ANALYST):
        response = await _get(client, await make_key(tenant=book.tenant, role=role), "2026-02")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"] == (
            'inline; filename="kpi-report-2026-02.pdf"'
        )
        assert response.headers["cache-control"] == "private, no-store"
        assert "€40.00" in _text(response.content)
    # Another tenant's key: its own report, with none of this book's figures.
    other = await _get(client, await make_key(tenant=await make_tenant()), "2026-02")
    assert other.status_code == 200 and "€40.00" not in _text(other.content)


async def test_refusals_are_json(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant()
    admin = await make_key(tenant=tenant)
    cases = [
        (None, "2026-02", 401, "UNAUTHENTICATED"),
        ("tly_live_nope_nope", "2026-02", 401, None),
        (await make_key(tenant=tenant, role=Role.SERVICE), "2026-02", 403, "FORBIDDEN"),
        (admin, "2026-13", 404, "INVALID_MONTH"),
        (admin, "2099-01", 404, "MONTH_NOT_STARTED"),
    ]
    for key, month, status, code in cases:
        response = await _get(client, key, month)
        assert response.status_code == status, (month, response.text)
        error = response.json()["error"]
        assert error["message"] and (code is None or error["code"] == code), error
    assert (await _get(client, None, "2026-02")).headers["www-authenticate"].startswith("Bearer")
    assert (await client.get("/v1/kpi-reports/2026-02.csv")).status_code == 404


async def test_settings_over_graphql(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant()
    admin = await make_key(tenant=tenant)
    assert data(await gql(client, admin, SETTINGS))["analyticsSettings"] == {
        "kpiReportEmail": False,
        "kpiReportRecipients": [],
        "kpiReportSendsTo": [],
        "kpiReportLastMonth": None,
    }
    changed = data(
        await gql(
            client,
            admin,
            UPDATE,
            {"input": {"kpiReportEmail": True, "kpiReportRecipients": ["cfo@acme.test"]}},
        )
    )["updateAnalyticsSettings"]
    assert changed == {
        "__typename": "AnalyticsSettingsSuccess",
        "settings": {"kpiReportEmail": True, "kpiReportRecipients": ["cfo@acme.test"]},
    }
    bad = data(await gql(client, admin, UPDATE, {"input": {"kpiReportRecipients": ["nope"]}}))
    assert bad["updateAnalyticsSettings"]["__typename"] == "ValidationError"
    assert bad["updateAnalyticsSettings"]["field"] == "kpiReportRecipients"
    too_many = [f"r{i}@acme.test" for i in range(11)]
    bad = data(await gql(client, admin, UPDATE, {"input": {"kpiReportRecipients": too_many}}))
    assert bad["updateAnalyticsSettings"]["__typename"] == "ValidationError"

    analyst = await make_key(tenant=tenant, role=Role.ANALYST)
    read = data(await gql(client, analyst, SETTINGS))["analyticsSettings"]
    assert read["kpiReportSendsTo"] == ["cfo@acme.test"]
    denied = data(await gql(client, analyst, UPDATE, {"input": {"kpiReportEmail": False}}))
    assert denied["updateAnalyticsSettings"]["__typename"] == "PermissionDeniedError"
    service = await make_key(tenant=tenant, role=Role.SERVICE)
    refused = await gql(client, service, SETTINGS)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    null = await post(client, admin, UPDATE, {"input": {"kpiReportEmail": None}})
    assert null.json()["errors"][0]["extensions"]["code"] == "NULL_NOT_ALLOWED"
