"""Work tagging (issue 16): one-off invoice lines and add-ons name the work they sell,
so a paid line earns its authors royalties. Through real GraphQL documents."""

from __future__ import annotations

from typing import Any

import httpx

from db.invoice_models import InvoiceLine
from db.querylog import count_statements
from db.royalty_models import Work
from domain import clock
from domain.ids import new_id
from domain.tenancy.api_keys import forget_keys
from tests.api.helpers import data, gql
from tests.factories import make_customer, make_key, make_plan, make_tenant

CREATE_INVOICE = """mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { __typename
  ... on InvoiceSuccess { invoice { id status lines { kind description workId
      amount { amountMinor } } } }
  ... on Error { code field message } } }"""
UPDATE_DRAFT = """mutation($id: ID!, $i: UpdateDraftInvoiceInput!) {
  updateDraftInvoice(id: $id, input: $i) { __typename
  ... on InvoiceSuccess { invoice { lines { description workId } } }
  ... on Error { code field } } }"""
INVOICES = (
    """{ invoices(first: 50) { nodes { number lines { workId amount { amountMinor } } } } }"""
)
CREATE_ADD_ON = """mutation($i: CreateAddOnInput!) { createAddOn(input: $i) { __typename
  ... on AddOnSuccess { addOn { id code } } ... on Error { code field } } }"""
UPDATE_ADD_ON = """mutation($id: ID!, $i: UpdateAddOnInput!) { updateAddOn(id: $id, input: $i) {
  __typename ... on AddOnSuccess { addOn { id } } ... on Error { code field } } }"""
SUBSCRIBE = """mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) {
  __typename ... on SubscriptionSuccess { subscription { id } } ... on Error { code field } } }"""
SUB_INVOICES = """query($sub: ID!) { invoices(subscriptionId: $sub) { nodes {
  lines { kind description workId amount { amountMinor } } } } }"""


async def make_work(tenant: Any, code: str = "dune", *, archived: bool = False) -> Work:
    now = clock.now()
    return await Work.create(
        public_id=new_id("work"),
        tenant_id=tenant.id,
        code=code,
        title=code.title(),
        archived_at=now if archived else None,
        created_at=now,
        updated_at=now,
    )


def item(description: str, amount_minor: int = 1000, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "unitPrice": {"currency": "EUR", "amountMinor": amount_minor},
        **extra,
    }


async def _world() -> dict[str, Any]:
    tenant = await make_tenant()
    customer = await make_customer(tenant=tenant)
    return {
        "tenant": tenant,
        "key": await make_key(tenant=tenant),
        "customer": customer.public_id,
        "work": await make_work(tenant),
    }


async def test_one_off_lines_carry_their_work_and_use(client: httpx.AsyncClient, db: str) -> None:
    w = await _world()
    work = w["work"].public_id
    items = [
        item("Dune, paperback", workId=work),
        item("Dune, film rights", 50000, workId=work, workUse="LICENSE"),
        item("Gift wrap", 300),
    ]
    body = await gql(
        client, w["key"], CREATE_INVOICE, {"i": {"customerId": w["customer"], "items": items}}
    )
    invoice = data(body)["createInvoice"]["invoice"]
    assert [(line["description"], line["workId"]) for line in invoice["lines"]] == [
        ("Dune, paperback", work),
        ("Dune, film rights", work),
        ("Gift wrap", None),
    ]
    rows = await InvoiceLine.filter(invoice__public_id=invoice["id"]).order_by("position")
    assert [(r.work_id, r.work_use) for r in rows] == [
        (w["work"].id, "SALE"),
        (w["work"].id, "LICENSE"),
        (None, None),
    ]
    # A draft's items are replaced with their works (and without).
    replaced = await gql(
        client,
        w["key"],
        UPDATE_DRAFT,
        {"id": invoice["id"], "i": {"items": [item("Plain"), item("Dune", workId=work)]}},
    )
    lines = data(replaced)["updateDraftInvoice"]["invoice"]["lines"]
    assert [line["workId"] for line in lines] == [None, work]


async def test_a_work_must_be_the_callers_and_a_use_needs_a_work(
    client: httpx.AsyncClient, db: str
) -> None:
    w = await _world()
    stranger = await make_work(await make_tenant(), "theirs")
    archived = await make_work(w["tenant"], "old", archived=True)
    cases = [
        ([item("a"), item("b", workId=stranger.public_id)], "NOT_FOUND", "items[1].workId"),
        ([item("a", workId="wrk_0000000000000000")], "NOT_FOUND", "items[0].workId"),
        ([item("a", workId="cus_0000000000000000")], "INVALID_ID", "items[0].workId"),
        ([item("a", workUse="LICENSE")], "WORK_USE_WITHOUT_WORK", "items[0].workUse"),
        ([item("a", workId=archived.public_id)], "WORK_ARCHIVED", "items[0].workId"),
    ]
    for items, code, field in cases:
        body = await gql(
            client, w["key"], CREATE_INVOICE, {"i": {"customerId": w["customer"], "items": items}}
        )
        result = data(body)["createInvoice"]
        assert (result["code"], result["field"]) == (code, field), result
    assert not await InvoiceLine.filter(invoice__tenant_id=w["tenant"].id).exists()


async def test_listing_lines_with_works_costs_one_query_more_whatever_the_page(
    client: httpx.AsyncClient, db: str
) -> None:
    w = await _world()
    other = await make_work(w["tenant"], "emma")
    for n in range(3):
        items = [item("Dune", workId=w["work"].public_id), item("Emma", workId=other.public_id)]
        body = await gql(
            client,
            w["key"],
            CREATE_INVOICE,
            {"i": {"customerId": w["customer"], "items": items[: n + 1], "finalize": True}},
        )
        assert data(body)["createInvoice"]["__typename"] == "InvoiceSuccess"
    forget_keys()
    with count_statements() as statements:
        nodes = data(await gql(client, w["key"], INVOICES))["invoices"]["nodes"]
    works = sorted(line["workId"] for node in nodes for line in node["lines"])
    assert works == sorted([w["work"].public_id] * 3 + [other.public_id] * 2)
    # key+tenant, invoices (+ count), lines, the lines' works
    assert len(statements) <= 5, statements


async def test_an_add_on_that_sells_a_work_bills_it_as_a_sale(
    client: httpx.AsyncClient, db: str
) -> None:
    w = await _world()
    work = w["work"].public_id
    plan = await make_plan(tenant=w["tenant"], prices=[("EUR", 1000)])
    created = {}
    for code, kind in (("audiobook", "RECURRING"), ("signed-copy", "ONE_OFF")):
        new = {
            "code": code,
            "name": code.title(),
            "kind": kind,
            "prices": [{"currency": "EUR", "amountMinor": 700}],
            "workId": work,
        }
        body = data(await gql(client, w["key"], CREATE_ADD_ON, {"i": new}))["createAddOn"]
        assert body["__typename"] == "AddOnSuccess", body
        created[code] = body["addOn"]["id"]
    stranger = await make_work(await make_tenant(), "theirs")
    bad = {**new, "code": "x", "workId": stranger.public_id}
    refused = data(await gql(client, w["key"], CREATE_ADD_ON, {"i": bad}))["createAddOn"]
    assert (refused["code"], refused["field"]) == ("NOT_FOUND", "workId")

    async def subscribe() -> list[dict[str, Any]]:
        add_ons = [{"addOnId": created[code]} for code in ("audiobook", "signed-copy")]
        new = {"customerId": w["customer"], "planId": plan.public_id, "addOns": add_ons}
        sub = data(await gql(client, w["key"], SUBSCRIBE, {"i": new}))["createSubscription"]
        assert sub["__typename"] == "SubscriptionSuccess", sub
        found = data(await gql(client, w["key"], SUB_INVOICES, {"sub": sub["subscription"]["id"]}))
        return found["invoices"]["nodes"][0]["lines"]

    lines = await subscribe()
    assert [(line["kind"], line["workId"]) for line in lines] == [
        ("PLAN", None),
        ("ADD_ON", work),
        ("ADD_ON", work),
    ]
    stored = await InvoiceLine.filter(invoice__tenant_id=w["tenant"].id, kind="add_on")
    assert {(r.work_id, r.work_use) for r in stored} == {(w["work"].id, "SALE")}
    # Unlinked: later subscriptions' add-on lines sell no work.
    for add_on in created.values():
        body = await gql(client, w["key"], UPDATE_ADD_ON, {"id": add_on, "i": {"workId": None}})
        assert data(body)["updateAddOn"]["__typename"] == "AddOnSuccess"
    assert [line["workId"] for line in await subscribe()] == [None, None, None]
