"""API keys, roles and customer tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from domain import clock
from domain.tenancy.access import Role
from tests.api.helpers import data, gql, post
from tests.factories import make_customer, make_key, make_plan

VIEWER = "{ viewer { role tenant { id } apiKey { id prefix } customer { id } } }"
CREATE_KEY = """
mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) {
    __typename
    ... on CreateApiKeySuccess { secret apiKey { id role prefix customer { id } } }
    ... on Error { code message field }
  }
}"""
REVOKE_KEY = """
mutation($id: ID!) { revokeApiKey(id: $id) { __typename ... on ApiKeySuccess { apiKey { revokedAt } } ... on Error { code } } }
"""
CREATE_PLAN = """
mutation($input: CreatePlanInput!) { createPlan(input: $input) { __typename ... on Error { code } } }
"""
CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { __typename ... on Error { code } } }
"""
UPDATE_CUSTOMER = """
mutation($id: ID!, $input: UpdateCustomerInput!) {
  updateCustomer(id: $id, input: $input) {
    __typename ... on CustomerSuccess { customer { name locale } } ... on Error { code message }
  }
}"""
CUSTOMERS = "{ customers { edges { node { id } } } }"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer nope",
        "Basic dXNlcjpwYXNz",
        "Bearer tly_AAAAAAAAAAAA_" + "A" * 32,
    ],
)
async def test_missing_or_bad_key_is_401_with_no_data(
    client: httpx.AsyncClient, tenant: Any, authorization: str | None
) -> None:
    await make_key(tenant=tenant)
    headers = {"content-type": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization
    response = await client.post("/graphql", json={"query": VIEWER}, headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_tampered_key_is_refused(client: httpx.AsyncClient, tenant: Any) -> None:
    key = await make_key(tenant=tenant)
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert (await post(client, tampered, VIEWER)).status_code == 401


async def test_expired_key_is_refused(client: httpx.AsyncClient, tenant: Any) -> None:
    key = await make_key(tenant=tenant, expires_at=clock.now() + timedelta(hours=1))
    assert (await post(client, key, VIEWER)).status_code == 200
    later = clock.FixedClock(datetime.now(UTC) + timedelta(hours=2))
    with clock.using_clock(later):
        assert (await post(client, key, VIEWER)).status_code == 401


async def test_keys_are_shown_once_listed_by_prefix_and_revocable(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    admin = await make_key(tenant=tenant)
    created = data(
        await gql(client, admin, CREATE_KEY, {"input": {"name": "backend", "role": "SERVICE"}})
    )["createApiKey"]
    assert created["__typename"] == "CreateApiKeySuccess"
    secret = created["secret"]
    assert secret.startswith(created["apiKey"]["prefix"] + "_")
    listed = data(await gql(client, admin, "{ apiKeys { id prefix role } }"))["apiKeys"]
    assert {k["role"] for k in listed} == {"ADMIN", "SERVICE"}
    assert secret not in str(listed)
    assert (await post(client, secret, VIEWER)).json()["data"]["viewer"]["role"] == "SERVICE"

    revoked = data(await gql(client, admin, REVOKE_KEY, {"id": created["apiKey"]["id"]}))
    assert revoked["revokeApiKey"]["apiKey"]["revokedAt"]
    assert (await post(client, secret, VIEWER)).status_code == 401


async def test_create_key_validation(client: httpx.AsyncClient, tenant: Any) -> None:
    admin = await make_key(tenant=tenant)
    cases = [
        ({"name": "c", "role": "CUSTOMER"}, "customerId"),
        ({"name": "s", "role": "SERVICE", "customerId": "cus_0000000000000000"}, "customerId"),
        ({"name": "", "role": "ADMIN"}, "name"),
        ({"name": "old", "role": "ADMIN", "expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt"),
    ]
    for variables, field in cases:
        result = data(await gql(client, admin, CREATE_KEY, {"input": variables}))["createApiKey"]
        assert result["__typename"] in ("ValidationError", "NotFoundError"), result
        assert result["field"] == field
    assert len(data(await gql(client, admin, "{ apiKeys { id } }"))["apiKeys"]) == 1


async def test_service_key_reads_but_does_not_write(client: httpx.AsyncClient, tenant: Any) -> None:
    await make_plan(tenant=tenant, code="basic")
    service = await make_key(tenant=tenant, role=Role.SERVICE)
    assert data(await gql(client, service, "{ plans { nodes { code } } }"))["plans"]["nodes"] == [
        {"code": "basic"}
    ]
    assert data(await gql(client, service, CUSTOMERS))["customers"]["edges"] == []
    plan_input = {"code": "x", "name": "X", "interval": "MONTH", "prices": []}
    result = data(await gql(client, service, CREATE_PLAN, {"input": plan_input}))
    assert result["createPlan"] == {"__typename": "PermissionDeniedError", "code": "FORBIDDEN"}
    result = data(await gql(client, service, CREATE_CUSTOMER, {"input": {"name": "N"}}))
    assert result["createCustomer"]["__typename"] == "PermissionDeniedError"
    body = await gql(client, service, "{ apiKeys { id } }")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    result = data(await gql(client, service, CREATE_KEY, {"input": {"name": "n", "role": "ADMIN"}}))
    assert result["createApiKey"]["__typename"] == "PermissionDeniedError"


async def test_customer_token_sees_and_edits_only_its_customer(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    me = await make_customer(tenant=tenant, name="Me", external_id="me")
    other = await make_customer(tenant=tenant, name="Other", external_id="other")
    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=me)

    viewer = data(await gql(client, token, VIEWER))["viewer"]
    assert viewer["role"] == "CUSTOMER" and viewer["customer"]["id"] == me.public_id
    listed = data(await gql(client, token, CUSTOMERS))["customers"]["edges"]
    assert [e["node"]["id"] for e in listed] == [me.public_id]
    query = "query($id: ID!) { customer(id: $id) { id } }"
    assert data(await gql(client, token, query, {"id": other.public_id}))["customer"] is None
    by_ext = '{ customer(externalId: "other") { id } }'
    assert data(await gql(client, token, by_ext))["customer"] is None

    mine = await gql(
        client, token, UPDATE_CUSTOMER, {"id": me.public_id, "input": {"locale": "fr"}}
    )
    assert data(mine)["updateCustomer"]["customer"] == {"name": "Me", "locale": "fr"}
    theirs = await gql(
        client, token, UPDATE_CUSTOMER, {"id": other.public_id, "input": {"name": "Hacked"}}
    )
    assert data(theirs)["updateCustomer"]["__typename"] == "NotFoundError"
    sneaky = await gql(
        client, token, UPDATE_CUSTOMER, {"id": me.public_id, "input": {"paymentTermsDays": 90}}
    )
    assert data(sneaky)["updateCustomer"]["__typename"] == "PermissionDeniedError"
    archive = "mutation($id: ID!) { archiveCustomer(id: $id) { __typename } }"
    result = data(await gql(client, token, archive, {"id": me.public_id}))
    assert result["archiveCustomer"]["__typename"] == "PermissionDeniedError"
    assert data(await gql(client, token, "{ plans { nodes { id } } }"))["plans"]["nodes"] == []
    await other.refresh_from_db()
    assert other.name == "Other"
