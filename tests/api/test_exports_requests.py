"""`GET /exports/...` (issue 17), the request side: filters (each kind's, `from`/`to`
with time zones), bad filters refused with a 400 naming them before anything streams,
who may export (401, 403, 404), tenant isolation, the database down (503)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from db.analytics_models import MrrMovement
from db.invoice_models import Invoice
from domain.reports import exports
from domain.tenancy.access import Role
from tests.api.exports_world import (
    KINDS,
    ExportWorld,
    build_world,
    get_export,
    read_csv,
    read_json,
)
from tests.factories import make_key


@pytest.fixture
async def world(db: str) -> ExportWorld:
    return await build_world()


async def test_filters(client: httpx.AsyncClient, world: ExportWorld) -> None:
    async def ids(name: str, **params: str) -> list[str]:
        return [r["id"] for r in read_csv(await get_export(client, world.key, name, **params))]

    eur, jpy, kwd = (world.invoices[c].public_id for c in ("EUR", "JPY", "KWD"))
    # The subscription's first invoice, made at its start: 2026-11-01T00:00Z.
    first = (await Invoice.get(subscription_id=world.subscription.id)).public_id
    assert await ids("invoices.csv", currency="jpy") == [jpy]
    assert await ids("invoices.csv", status="PAID") == [eur]
    assert await ids("invoices.csv", customer=world.ada.public_id) == [first, kwd]
    assert await ids("invoices.csv", subscription=world.subscription.public_id) == [first]
    november = {"from": "2026-11-01T00:00:00+01:00", "to": "2026-11-20T00:00:00Z"}
    assert await ids("invoices.csv", **november) == [first, jpy]  # `to` is excluded
    assert await ids("invoices.csv", **{"from": "2026-11-01T00:00:00-01:00"}) == [jpy, kwd]
    assert await ids("invoices.csv", to="2026-11-05T00:00:00Z") == [eur, first]
    assert await ids("customers.csv", country="jp") == [world.evil.public_id]
    assert len(await ids("credit-ledger.csv", kind="grant")) == 2
    assert await ids("credit-ledger.csv", kind="consumption") == []
    usage = read_csv(await get_export(client, world.key, "usage.csv", metric="calls"))
    assert len(usage) == 2
    new = await MrrMovement.filter(tenant_id=world.tenant.id, kind="new").count()
    assert (
        len(read_csv(await get_export(client, world.key, "mrr-movements.csv", kind="new"))) == new
    )
    (kwd,) = read_csv(await get_export(client, world.key, "mrr-movements.csv", currency="KWD"))
    assert kwd["cause"] == "imported"
    # An unencoded `+` arrives as a space: still read as an offset.
    spaced = await client.get(
        "/exports/invoices.csv?from=2026-11-01T00:00:00+01:00&to=2026-11-20T00:00:00Z",
        headers={"authorization": f"Bearer {world.key}"},
    )
    assert [r["id"] for r in read_csv(spaced)] == [first, jpy]


@pytest.mark.parametrize(
    ("name", "params", "code", "field"),
    [
        ("invoices.csv", {"from": "2026-11-01"}, "INVALID_DATETIME", "from"),
        ("invoices.csv", {"to": "2026-11-01T00:00:00"}, "INVALID_DATETIME", "to"),
        ("invoices.csv", {"from": "soon"}, "INVALID_DATETIME", "from"),
        ("invoices.csv", {"from": "9999-01-01T00:00:00Z"}, "DATE_OUT_OF_RANGE", "from"),
        (
            "invoices.json",
            {"from": "2026-12-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
            "VALIDATION_ERROR",
            "from",
        ),
        ("invoices.xlsx", {"status": "lost"}, "VALIDATION_ERROR", "status"),
        ("invoices.csv", {"currency": "EURO"}, "UNKNOWN_CURRENCY", "currency"),
        ("invoices.csv", {"customer": "ada"}, "INVALID_ID", "customer"),
        ("invoices.csv", {"customer": "sub_0123456789abcdef"}, "INVALID_ID", "customer"),
        ("invoices.csv", {"stauts": "paid"}, "UNKNOWN_PARAMETER", "stauts"),
        ("invoices.csv", {"status": ""}, "VALIDATION_ERROR", "status"),
        ("customers.csv", {"customer": "cus_0123456789abcdef"}, "UNKNOWN_PARAMETER", "customer"),
        ("customers.csv", {"country": "Atlantis"}, "VALIDATION_ERROR", "country"),
        ("credit-ledger.csv", {"kind": "gift"}, "VALIDATION_ERROR", "kind"),
        ("credit-ledger.csv", {"module": "a b"}, "VALIDATION_ERROR", "module"),
        ("royalty-statements.csv", {"period": "2026-13"}, "INVALID_PERIOD", "period"),
        ("mrr-movements.csv", {"kind": "upsell"}, "VALIDATION_ERROR", "kind"),
    ],
)
async def test_a_bad_filter_is_a_400_naming_it(
    client: httpx.AsyncClient,
    world: ExportWorld,
    name: str,
    params: dict[str, str],
    code: str,
    field: str,
) -> None:
    response = await get_export(client, world.key, name, **params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"]


async def test_who_may_export_and_what_is_missing(
    client: httpx.AsyncClient, world: ExportWorld
) -> None:
    missing = await get_export(client, None, "invoices.csv")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "UNAUTHENTICATED"
    assert missing.headers["www-authenticate"] == 'Bearer realm="tally"'
    assert (await get_export(client, "tally_nope_secret", "invoices.csv")).status_code == 401
    customer = await make_key(tenant=world.tenant, role=Role.CUSTOMER, customer=world.ada)
    service = await make_key(tenant=world.tenant, role=Role.SERVICE)
    for key in (customer, service):
        refused = await get_export(client, key, "invoices.csv", status="nonsense")
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "FORBIDDEN"
    for name in ("nothing.csv", "invoices.pdf", "invoices", "invoices.", ".csv"):
        response = await get_export(client, world.key, name)
        assert response.status_code == 404, name
        assert response.json()["error"]["code"] == "NOT_FOUND"
    for kind in KINDS:
        assert (await get_export(client, world.analyst, f"{kind}.json")).status_code == 200, kind
    response = await get_export(client, world.key, "invoices.xlsx")
    assert response.headers["content-disposition"].startswith('attachment; filename="invoices-')
    assert response.headers["cache-control"] == "private, no-store"


async def test_each_tenant_exports_only_its_own_rows(
    client: httpx.AsyncClient, world: ExportWorld
) -> None:
    mine = {kind: read_json(await get_export(client, world.key, f"{kind}.json")) for kind in KINDS}
    theirs = {
        kind: read_json(await get_export(client, world.other_key, f"{kind}.json")) for kind in KINDS
    }
    assert [c["id"] for c in theirs["customers"]] == [
        c["id"] for c in theirs["customers"] if c["id"] != world.ada.public_id
    ]
    assert world.other_customer.public_id in {c["id"] for c in theirs["customers"]}
    assert world.other_customer.public_id not in {c["id"] for c in mine["customers"]}
    assert len(theirs["credit-ledger"]) == 1 and theirs["credit-ledger"][0]["amount"] == 50
    assert len(theirs["invoices"]) == 1 and len(mine["invoices"]) == 4
    for kind in ("subscriptions", "usage", "royalty-statements", "mrr-movements", "payments"):
        assert theirs[kind] == [], kind
        assert mine[kind], kind
    # Another tenant's customer reads as one that does not exist.
    response = await get_export(
        client, world.other_key, "invoices.csv", customer=world.ada.public_id
    )
    assert response.status_code == 404 and response.json()["error"]["field"] == "customer"


async def test_the_database_down_before_the_first_row_is_a_503(
    client: httpx.AsyncClient, world: ExportWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(self: Any, *args: Any) -> Any:
        raise ConnectionRefusedError("connection refused")
        yield  # an async generator, as the reader is

    monkeypatch.setattr(exports.Export, "batches", refused)
    response = await get_export(client, world.key, "credit-ledger.csv")
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert response.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
