"""Customers through GraphQL: create, validate, update, archive, fetch, search, paginate."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from db.models import Customer
from db.querylog import count_statements
from domain.tenancy.api_keys import forget_keys
from tests.api.helpers import data, gql
from tests.factories import make_customer, make_key

FIELDS = """id externalId name email taxId locale currency timezone paymentTermsDays metadata status
address { line1 line2 city postalCode state country }"""
CREATE = f"""
mutation($input: CreateCustomerInput!, $key: String) {{
  createCustomer(input: $input, idempotencyKey: $key) {{
    __typename ... on CustomerSuccess {{ customer {{ {FIELDS} }} }} ... on Error {{ code field message }}
  }}
}}"""
UPDATE = f"""
mutation($id: ID!, $input: UpdateCustomerInput!) {{
  updateCustomer(id: $id, input: $input) {{
    __typename ... on CustomerSuccess {{ customer {{ {FIELDS} }} }} ... on Error {{ code field }}
  }}
}}"""
PAGE = """
query($first: Int, $after: String, $search: String, $country: String, $currency: String, $status: CustomerStatus) {
  customers(first: $first, after: $after, search: $search, country: $country, currency: $currency, status: $status) {
    edges { cursor node { externalId } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    totalCount
  }
}"""
LUCIE = {
    "externalId": "user-42",
    "name": "Lucie Martin",
    "email": "lucie@example.fr",
    "address": {
        "line1": "1 rue de la Paix",
        "city": "Paris",
        "postalCode": "75002",
        "country": "fr",
    },
    "taxId": "FR 40 303 265 045",
    "locale": "fr",
    "currency": "eur",
    "timezone": "Europe/Paris",
    "paymentTermsDays": 15,
    "metadata": {"plan_source": "web", "seats": 3},
}


@pytest.fixture
async def key(tenant: Any) -> str:
    return await make_key(tenant=tenant)


async def test_create_customer(client: httpx.AsyncClient, key: str) -> None:
    result = data(await gql(client, key, CREATE, {"input": LUCIE}))["createCustomer"]
    customer = result["customer"]
    assert customer["id"].startswith("cus_")
    assert customer["address"]["country"] == "FR" and customer["currency"] == "EUR"
    assert customer["taxId"] == "FR40303265045"
    assert customer["metadata"] == {"plan_source": "web", "seats": 3}
    assert customer["status"] == "ACTIVE"


async def test_defaults_come_from_the_tenant(
    client: httpx.AsyncClient, key: str, tenant: Any
) -> None:
    customer = data(await gql(client, key, CREATE, {"input": {"name": "Min"}}))["createCustomer"][
        "customer"
    ]
    assert (customer["currency"], customer["locale"], customer["timezone"]) == (
        tenant.default_currency,
        tenant.default_locale,
        tenant.timezone,
    )
    assert customer["paymentTermsDays"] is None and customer["externalId"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"email": "nope"}, "email"),
        ({"address": {"country": "XX"}}, "address.country"),
        ({"address": {"country": "FRA"}}, "address.country"),
        ({"locale": "it"}, "locale"),
        ({"currency": "EURO"}, "currency"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"taxId": "12"}, "taxId"),
        ({"paymentTermsDays": -1}, "paymentTermsDays"),
        ({"metadata": [1, 2]}, "metadata"),
        ({"metadata": {"k" * 41: 1}}, "metadata"),
        ({"externalId": "x" * 129}, "externalId"),
    ],
)
async def test_validation_writes_nothing(
    client: httpx.AsyncClient, key: str, tenant: Any, change: dict[str, Any], field: str
) -> None:
    result = data(await gql(client, key, CREATE, {"input": {**LUCIE, **change}}))["createCustomer"]
    assert result["__typename"] == "ValidationError", result
    assert result["field"] == field
    assert not await Customer.exists(tenant_id=tenant.id)


async def test_external_id_is_unique_per_tenant(
    client: httpx.AsyncClient, key: str, tenant: Any
) -> None:
    assert (
        data(await gql(client, key, CREATE, {"input": LUCIE}))["createCustomer"]["__typename"]
        == "CustomerSuccess"
    )
    dup = data(await gql(client, key, CREATE, {"input": LUCIE}))["createCustomer"]
    assert (dup["__typename"], dup["code"], dup["field"]) == (
        "ConflictError",
        "DUPLICATE_EXTERNAL_ID",
        "externalId",
    )
    other = await make_customer(tenant=tenant, name="Other", external_id="other")
    clash = data(
        await gql(client, key, UPDATE, {"id": other.public_id, "input": {"externalId": "user-42"}})
    )
    assert clash["updateCustomer"]["__typename"] == "ConflictError"
    # Another tenant may use the same external id.
    from tests.factories import make_tenant

    elsewhere = await make_key(tenant=await make_tenant())
    assert (
        data(await gql(client, elsewhere, CREATE, {"input": LUCIE}))["createCustomer"]["__typename"]
        == "CustomerSuccess"
    )


async def test_update_archive_and_fetch(client: httpx.AsyncClient, key: str) -> None:
    created = data(await gql(client, key, CREATE, {"input": LUCIE}))["createCustomer"]["customer"]
    change = {
        "email": "new@example.fr",
        "address": {"city": "Lyon"},
        "paymentTermsDays": None,
        "metadata": {},
    }
    updated = data(await gql(client, key, UPDATE, {"id": created["id"], "input": change}))[
        "updateCustomer"
    ]["customer"]
    assert updated["email"] == "new@example.fr" and updated["address"]["city"] == "Lyon"
    assert updated["address"]["line1"] == "1 rue de la Paix"  # untouched parts stay
    assert updated["paymentTermsDays"] is None and updated["metadata"] == {}
    archive = "mutation($id: ID!) { archiveCustomer(id: $id) { ... on CustomerSuccess { customer { status } } } }"
    assert (
        data(await gql(client, key, archive, {"id": created["id"]}))["archiveCustomer"]["customer"][
            "status"
        ]
        == "ARCHIVED"
    )
    by_ext = data(await gql(client, key, '{ customer(externalId: "user-42") { id status } }'))
    assert by_ext["customer"] == {"id": created["id"], "status": "ARCHIVED"}
    missing = await gql(
        client,
        key,
        'mutation { updateCustomer(id: "cus_0000000000000000", input: {name: "x"}) { __typename } }',
    )
    assert data(missing)["updateCustomer"]["__typename"] == "NotFoundError"
    malformed = await gql(
        client,
        key,
        'mutation { updateCustomer(id: "pln_0000000000000000", input: {name: "x"}) { ... on Error { code field } } }',
    )
    assert data(malformed)["updateCustomer"] == {"code": "INVALID_ID", "field": "id"}


async def test_idempotent_create(client: httpx.AsyncClient, key: str, tenant: Any) -> None:
    first = data(await gql(client, key, CREATE, {"input": LUCIE, "key": "signup-42"}))
    second = data(await gql(client, key, CREATE, {"input": LUCIE, "key": "signup-42"}))
    assert first == second
    changed = data(
        await gql(client, key, CREATE, {"input": {**LUCIE, "name": "X"}, "key": "signup-42"})
    )
    assert changed["createCustomer"]["__typename"] == "IdempotencyError"
    assert await Customer.filter(tenant_id=tenant.id).count() == 1


async def test_pagination_edges(client: httpx.AsyncClient, key: str, tenant: Any) -> None:
    empty = data(await gql(client, key, PAGE, {"first": 10}))["customers"]
    assert empty == {
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
        "totalCount": 0,
    }
    for i in range(7):
        await make_customer(tenant=tenant, name=f"C{i}", external_id=f"c{i}")
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = data(await gql(client, key, PAGE, {"first": 3, "after": after}))["customers"]
        seen += [e["node"]["externalId"] for e in page["edges"]]
        assert page["totalCount"] == 7
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"c{i}" for i in range(7)] and pages == 3
    exact = data(await gql(client, key, PAGE, {"first": 7}))["customers"]
    assert len(exact["edges"]) == 7 and exact["pageInfo"]["hasNextPage"] is False
    zero = data(await gql(client, key, PAGE, {"first": 0}))["customers"]
    assert zero["edges"] == [] and zero["pageInfo"]["hasNextPage"] is True
    default = data(await gql(client, key, PAGE, {}))["customers"]
    assert len(default["edges"]) == 7
    for bad in ({"first": 101}, {"first": -1}, {"after": "garbage"}):
        body = await gql(client, key, PAGE, bad)
        assert body["errors"][0]["extensions"]["code"] in ("INVALID_PAGE_SIZE", "INVALID_CURSOR"), (
            bad
        )
        assert body["data"] is None


async def test_search_and_filters(client: httpx.AsyncClient, key: str, tenant: Any) -> None:
    await make_customer(
        tenant=tenant,
        name="Amina Benali",
        email="amina@example.dz",
        external_id="u1",
        address={"country": "DZ"},
        currency="DZD",
    )
    await make_customer(
        tenant=tenant,
        name="Lucie Martin",
        email="lucie@example.fr",
        external_id="u2",
        address={"country": "FR"},
    )
    await make_customer(
        tenant=tenant,
        name="Jane Cooper",
        email="JANE@example.com",
        external_id="u3",
        address={"country": "US"},
        currency="USD",
    )

    async def ext(**variables: Any) -> list[str]:
        page = data(await gql(client, key, PAGE, variables))["customers"]
        return [e["node"]["externalId"] for e in page["edges"]]

    assert await ext(search="benali") == ["u1"]
    assert await ext(search="EXAMPLE.COM") == ["u3"]
    assert await ext(search="u2") == ["u2"]
    assert await ext(search="100%_") == []
    assert await ext(country="fr") == ["u2"]
    assert await ext(currency="USD") == ["u3"]
    assert await ext(status="ARCHIVED") == []
    bad = await gql(client, key, PAGE, {"country": "ZZZ"})
    assert bad["errors"][0]["extensions"]["field"] == "country"


@pytest.mark.parametrize("size", [1, 10, 40])
async def test_statement_count_does_not_grow_with_the_page(
    client: httpx.AsyncClient, key: str, tenant: Any, size: int
) -> None:
    for i in range(size):
        await make_customer(tenant=tenant, name=f"C{i}")
    forget_keys()  # count the cold case: the key lookup included
    with count_statements() as statements:
        page = data(
            await gql(
                client, key, "{ customers(first: 100) { nodes { id name address { city } } } }"
            )
        )
    assert len(page["customers"]["nodes"]) == size
    assert len(statements) == 2  # the key (with its tenant) and the page
