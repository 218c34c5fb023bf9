"""The tenant's own settings, the currency table, and every GraphQL example in the
README run against the demo data (so the tour cannot rot)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from domain.demo import seed_demo
from domain.tenancy.access import Role
from tests.api.helpers import data, gql
from tests.factories import make_key, make_tenant

UPDATE = """mutation($input: UpdateTenantInput!) { updateTenant(input: $input) {
  __typename ... on TenantSuccess { tenant { name legalName vatId defaultLocale country address { city } } }
  ... on Error { code field } } }"""


async def test_update_tenant(client: httpx.AsyncClient, tenant: Any) -> None:
    key = await make_key(tenant=tenant)
    change = {
        "legalName": "Acme SAS",
        "vatId": "fr40303265045",
        "defaultLocale": "FR",
        "address": {"city": "Paris"},
    }
    result = data(await gql(client, key, UPDATE, {"input": change}))["updateTenant"]
    assert result["tenant"] == {
        "name": tenant.name,
        "legalName": "Acme SAS",
        "vatId": "FR40303265045",
        "defaultLocale": "fr",
        "country": "FR",
        "address": {"city": "Paris"},
    }
    for bad, field in (
        ({"country": "XX"}, "country"),
        ({"defaultCurrency": "ABC"}, "defaultCurrency"),
        ({"paymentTermsDays": 1000}, "paymentTermsDays"),
        ({}, "input"),
    ):
        result = data(await gql(client, key, UPDATE, {"input": bad}))["updateTenant"]
        assert (result["__typename"], result["field"]) == ("ValidationError", field)
    service = await make_key(tenant=tenant, role=Role.SERVICE)
    denied = data(await gql(client, service, UPDATE, {"input": {"name": "X"}}))["updateTenant"]
    assert denied["__typename"] == "PermissionDeniedError"
    await tenant.refresh_from_db()
    assert tenant.legal_name == "Acme SAS" and tenant.name != "X"


async def test_currency_table(client: httpx.AsyncClient, db: str) -> None:
    key = await make_key(tenant=await make_tenant())
    table = {
        c["code"]: c["exponent"]
        for c in data(await gql(client, key, "{ currencies { code exponent } }"))["currencies"]
    }
    assert table["EUR"] == 2 and table["JPY"] == 0 and table["KWD"] == 3 and table["XOF"] == 0
    assert len(table) >= 150


def _readme_documents() -> list[str]:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    return re.findall(r"```graphql\n(.*?)```", text, flags=re.S)


async def test_readme_examples_work_on_the_demo_data(client: httpx.AsyncClient, db: str) -> None:
    from db.models import Tenant
    from domain.demo import DEMO_TENANT

    if await Tenant.exists(name=DEMO_TENANT):
        demo = await Tenant.get(name=DEMO_TENANT)
        key = await make_key(tenant=demo)
    else:
        key = (await seed_demo()).admin_key  # type: ignore[union-attr]
    documents = _readme_documents()
    assert len(documents) >= 4
    for document in documents:
        if document.lstrip().startswith("subscription"):
            continue  # covered over a real WebSocket in test_live.py
        if re.match(r"\s*(query|mutation)\s*\(", document):
            # A template taking ids as variables: it must at least be a valid document
            # (its operation runs in tests/api/test_billing_api.py).
            from graphql import parse, validate

            from api.schema import build_schema

            schema = build_schema()._schema
            assert validate(schema, parse(document)) == [], document
            continue
        body = await gql(client, key, document)
        assert "errors" not in body, (document, body)
        for value in body["data"].values():
            typename = value.get("__typename") if isinstance(value, dict) else None
            assert typename is None or typename.endswith("Success"), (document, value)
