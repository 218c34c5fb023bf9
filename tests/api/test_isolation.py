"""Tenant isolation: every query and mutation, tried with another tenant's key, treats
the other tenant's ids exactly like ids that do not exist and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx

from db.models import AddOn, Coupon, Customer, Plan
from domain.catalog.add_ons import create_add_on
from domain.catalog.coupons import create_coupon
from domain.tenancy.access import Principal, Role
from schema.root import Mutation, Query
from tests.api.helpers import data, gql
from tests.factories import make_customer, make_key, make_plan, make_tenant

NOT_FOUND = "NotFoundError"


async def _victim() -> dict[str, Any]:
    tenant = await make_tenant(name="Victim Co")
    admin = Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id=0)
    plan = await make_plan(tenant=tenant, code="victim-plan")
    add_on = await create_add_on(
        admin,
        {
            "code": "victim-addon",
            "name": "A",
            "kind": "recurring",
            "prices": [{"currency": "EUR", "amount_minor": 100}],
        },
    )
    coupon = await create_coupon(
        admin, {"code": "VICTIM", "percent_off": "10", "duration": "forever"}
    )
    customer = await make_customer(tenant=tenant, name="Victim", external_id="victim-1")
    key = await make_key(tenant=tenant, role=Role.SERVICE)
    from tests.factories import key_row

    return {
        "tenant": tenant,
        "plan": plan.public_id,
        "add_on": add_on.public_id,
        "coupon": coupon.public_id,
        "customer": customer.public_id,
        "key": (await key_row(key)).public_id,
    }


QUERIES = {
    "plan": ("query($id: ID!) { plan(id: $id) { id } }", "plan"),
    "addOn": ("query($id: ID!) { addOn(id: $id) { id } }", "add_on"),
    "coupon": ("query($id: ID!) { coupon(id: $id) { id } }", "coupon"),
    "customer": ("query($id: ID!) { customer(id: $id) { id } }", "customer"),
}
BY_CODE = [
    '{ plan(code: "victim-plan") { id } }',
    '{ addOn(code: "victim-addon") { id } }',
    '{ coupon(code: "VICTIM") { id } }',
    '{ customer(externalId: "victim-1") { id } }',
]
LISTS = {
    "plans": "{ plans { nodes { id } totalCount } }",
    "addOns": "{ addOns { nodes { id } totalCount } }",
    "coupons": "{ coupons { nodes { id } totalCount } }",
    "customers": "{ customers { nodes { id } totalCount } }",
    "apiKeys": "{ apiKeys { id } }",
}
OWN = {"viewer", "tenant", "currencies"}  # answer about the caller itself, no foreign id taken

MUTATIONS = {
    "updatePlan": (
        'mutation($id: ID!) { updatePlan(id: $id, input: {name: "X"}) { __typename } }',
        "plan",
    ),
    "archivePlan": ("mutation($id: ID!) { archivePlan(id: $id) { __typename } }", "plan"),
    "updateAddOn": (
        'mutation($id: ID!) { updateAddOn(id: $id, input: {name: "X"}) { __typename } }',
        "add_on",
    ),
    "archiveAddOn": ("mutation($id: ID!) { archiveAddOn(id: $id) { __typename } }", "add_on"),
    "updateCoupon": (
        'mutation($id: ID!) { updateCoupon(id: $id, input: {name: "X"}) { __typename } }',
        "coupon",
    ),
    "archiveCoupon": ("mutation($id: ID!) { archiveCoupon(id: $id) { __typename } }", "coupon"),
    "updateCustomer": (
        'mutation($id: ID!) { updateCustomer(id: $id, input: {name: "X"}) { __typename } }',
        "customer",
    ),
    "archiveCustomer": (
        "mutation($id: ID!) { archiveCustomer(id: $id) { __typename } }",
        "customer",
    ),
    "revokeApiKey": ("mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }", "key"),
    "createApiKey": (
        'mutation($id: ID!) { createApiKey(input: {name: "x", role: CUSTOMER, customerId: $id}) { __typename } }',
        "customer",
    ),
    "createCoupon": (
        'mutation($id: ID!) { createCoupon(input: {code: "STEAL", percentOff: "5", duration: ONCE, planIds: [$id]}) { __typename } }',
        "plan",
    ),
}
# Creating in one's own tenant takes no foreign id; updateTenant only ever targets the caller's.
CREATES_OWN = {"createPlan", "createAddOn", "createCustomer", "updateTenant"}


def _fields(cls: type) -> set[str]:
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    return {f.graphql_name or _camel(f.python_name) for f in definition.fields}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def test_every_operation_has_an_isolation_case() -> None:
    assert _fields(Query) == set(QUERIES) | set(LISTS) | OWN
    assert _fields(Mutation) == set(MUTATIONS) | CREATES_OWN


async def test_foreign_ids_read_as_missing(client: httpx.AsyncClient, db: str) -> None:
    victim = await _victim()
    attacker = await make_tenant(name="Attacker")
    key = await make_key(tenant=attacker)

    for name, (document, kind) in QUERIES.items():
        body = await gql(client, key, document, {"id": victim[kind]})
        assert body == {"data": {name: None}}, name
    for document in BY_CODE:
        body = await gql(client, key, document)
        assert list(data(body).values()) == [None], document
    for name, document in LISTS.items():
        result = data(await gql(client, key, document))[name]
        assert victim["tenant"].public_id not in str(result)
        rows = result if isinstance(result, list) else result["nodes"]
        assert all(victim[k] not in str(rows) for k in ("plan", "add_on", "coupon", "customer"))
    tenant = data(await gql(client, key, "{ tenant { id name } viewer { tenant { id } } }"))
    assert tenant["tenant"]["name"] == "Attacker"


async def test_foreign_ids_cannot_be_changed(client: httpx.AsyncClient, db: str) -> None:
    victim = await _victim()
    key = await make_key(tenant=await make_tenant(name="Attacker"))
    for name, (document, kind) in MUTATIONS.items():
        result = data(await gql(client, key, document, {"id": victim[kind]}))[name]
        assert result["__typename"] == NOT_FOUND, name
    # Nothing of the victim's changed, and the attacker created nothing.
    assert (await Plan.get(public_id=victim["plan"])).name == "Test plan"
    assert (await Plan.get(public_id=victim["plan"])).status == "active"
    assert (await AddOn.get(public_id=victim["add_on"])).name == "A"
    assert (await Coupon.get(public_id=victim["coupon"])).status == "active"
    assert (await Customer.get(public_id=victim["customer"])).name == "Victim"
    assert not await Coupon.exists(code="STEAL")
