"""Prorated lines multiply out, and a percent coupon discounts prorations (issue 13,
items 10 and 13), through GraphQL and the PDF's document."""

from __future__ import annotations

from typing import Any

import httpx

from db.invoice_models import Invoice
from domain.catalog.add_ons import create_add_on
from domain.catalog.coupons import create_coupon
from domain.invoicing.builder import TIMES
from domain.invoicing.documents import invoice_document
from tests.api.helpers import data, gql
from tests.factories import admin_of, make_key, make_plan, make_test_tenant

CLOCK = """mutation { createTestClock(name: "QA", frozenTime: "2026-04-01T00:00:00Z") {
  ... on TestClockSuccess { testClock { id } } } }"""
CUSTOMER = """mutation($clock: ID!) { createCustomer(input: {name: "Ada", email: "ada@example.fr",
  address: {country: "FR"}, testClockId: $clock}) { ... on CustomerSuccess { customer { id } } } }"""
SUBSCRIBE = """mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) {
  __typename ... on SubscriptionSuccess { subscription { id } } ... on Error { code field } } }"""
ADVANCE = (
    """mutation($id: ID!, $to: DateTime!) { advanceTestClock(id: $id, to: $to) { __typename } }"""
)
CHANGE = """mutation($id: ID!, $i: ChangeSubscriptionInput!) { changeSubscription(id: $id, input: $i) {
  __typename ... on Error { code field } } }"""
PREVIEW = """query($id: ID!, $i: ChangeSubscriptionInput!) { subscriptionChangePreview(id: $id, input: $i) {
  subtotal { amountMinor } discount { amountMinor }
  lines { kind description quantity unitAmount { amountMinor } amount { amountMinor } } } }"""
INVOICES = """query($sub: ID!) { invoices(subscriptionId: $sub) { nodes { id billingReason
  subtotal { amountMinor } discount { amountMinor } couponCode
  lines { kind description quantity unitAmount { amountMinor } amount { amountMinor }
          discount { amountMinor } } } } }"""


async def _world(client: httpx.AsyncClient) -> dict[str, Any]:
    tenant = await make_test_tenant(country="FR")
    key = await make_key(tenant=tenant)
    clock = data(await gql(client, key, CLOCK))["createTestClock"]["testClock"]["id"]
    customer = data(await gql(client, key, CUSTOMER, {"clock": clock}))["createCustomer"]
    plan = await make_plan(tenant=tenant, code="seat", name="Seat", prices=[("EUR", 1000)])
    return {
        "tenant": tenant,
        "key": key,
        "clock": clock,
        "customer": customer["customer"]["id"],
        "plan": plan,
    }


async def _subscribe(client: httpx.AsyncClient, w: dict[str, Any], **extra: Any) -> str:
    sub = {"customerId": w["customer"], "planId": w["plan"].public_id, **extra}
    made = data(await gql(client, w["key"], SUBSCRIBE, {"i": sub}))["createSubscription"]
    assert made["__typename"] == "SubscriptionSuccess", made
    return made["subscription"]["id"]


async def _invoices(client: httpx.AsyncClient, w: dict[str, Any], sub: str) -> list[Any]:
    return data(await gql(client, w["key"], INVOICES, {"sub": sub}))["invoices"]["nodes"]


def _multiplies_out(lines: list[dict[str, Any]]) -> bool:
    return all(
        line["quantity"] * line["unitAmount"]["amountMinor"] == line["amount"]["amountMinor"]
        for line in lines
    )


async def _document_multiplies_out(invoice_id: str) -> bool:
    document = await invoice_document(await Invoice.get(public_id=invoice_id))
    return all(
        line["quantity"] * line["unit_amount_minor"] == line["amount_minor"]
        for line in document.lines
    )


async def test_a_seat_change_billed_now_shows_lines_that_multiply_out(
    client: httpx.AsyncClient, db: str
) -> None:
    w = await _world(client)
    sub = await _subscribe(client, w)
    await gql(client, w["key"], ADVANCE, {"id": w["clock"], "to": "2026-04-11T00:00:00Z"})
    change = {"quantity": 3, "prorationBehavior": "ALWAYS_INVOICE"}
    preview = data(await gql(client, w["key"], PREVIEW, {"id": sub, "i": change}))
    assert _multiplies_out(preview["subscriptionChangePreview"]["lines"])
    assert data(await gql(client, w["key"], CHANGE, {"id": sub, "i": change}))[
        "changeSubscription"
    ] == {"__typename": "SubscriptionSuccess"}
    update = (await _invoices(client, w, sub))[-1]
    assert update["billingReason"] == "subscription_update"
    # 20 of April's 30 days left: 1 seat credited, 3 seats charged.
    assert [
        (line["kind"], line["description"], line["quantity"], line["amount"]["amountMinor"])
        for line in update["lines"]
    ] == [
        ("PRORATION_CREDIT", "Unused time on Seat", 1, -667),
        ("PRORATION_CHARGE", f"Remaining time on 3 {TIMES} Seat", 1, 2000),
    ]
    assert _multiplies_out(update["lines"])
    assert await _document_multiplies_out(update["id"])


async def test_a_later_billing_anchor_shows_a_first_line_that_multiplies_out(
    client: httpx.AsyncClient, db: str
) -> None:
    w = await _world(client)
    sub = await _subscribe(client, w, quantity=2, billingAnchor="2026-04-21T00:00:00Z")
    (first,) = await _invoices(client, w, sub)
    ((kind, description, quantity, amount),) = [
        (line["kind"], line["description"], line["quantity"], line["amount"]["amountMinor"])
        for line in first["lines"]
    ]
    # 20 days of the 31 from March 21 to April 21, for 2 seats at 10.00.
    assert (kind, description, quantity, amount) == ("PLAN", f"2 {TIMES} Seat", 1, 1290)
    assert _multiplies_out(first["lines"])
    assert await _document_multiplies_out(first["id"])


async def test_an_add_on_quantity_change_shows_lines_that_multiply_out(
    client: httpx.AsyncClient, db: str
) -> None:
    w = await _world(client)
    extra = await create_add_on(
        admin_of(w["tenant"]),
        {
            "code": "support",
            "name": "Support",
            "kind": "recurring",
            "prices": [{"currency": "EUR", "amount_minor": 700}],
        },
    )
    sub = await _subscribe(client, w, addOns=[{"addOnId": extra.public_id, "quantity": 2}])
    await gql(client, w["key"], ADVANCE, {"id": w["clock"], "to": "2026-04-08T00:00:00Z"})
    change = {
        "addOns": [{"addOnId": extra.public_id, "quantity": 5}],
        "prorationBehavior": "CREATE_PRORATIONS",
    }
    assert data(await gql(client, w["key"], CHANGE, {"id": sub, "i": change}))[
        "changeSubscription"
    ] == {"__typename": "SubscriptionSuccess"}
    await gql(client, w["key"], ADVANCE, {"id": w["clock"], "to": "2026-05-02T00:00:00Z"})
    renewal = (await _invoices(client, w, sub))[-1]
    kinds = [line["kind"] for line in renewal["lines"]]
    assert kinds == ["PLAN", "ADD_ON", "PRORATION_CREDIT", "PRORATION_CHARGE"]
    assert _multiplies_out(renewal["lines"])
    assert await _document_multiplies_out(renewal["id"])


async def _coupon(w: dict[str, Any], **terms: Any) -> str:
    coupon = await create_coupon(admin_of(w["tenant"]), {"duration": "forever", **terms})
    return coupon.code


async def test_a_forever_percent_coupon_discounts_prorations_like_stripe(
    client: httpx.AsyncClient, db: str
) -> None:
    w = await _world(client)
    code = await _coupon(w, code="TENOFF", percent_off="10")
    sub = await _subscribe(client, w, couponCode=code)
    await gql(client, w["key"], ADVANCE, {"id": w["clock"], "to": "2026-04-16T00:00:00Z"})
    change = {"quantity": 3, "prorationBehavior": "ALWAYS_INVOICE"}
    assert data(await gql(client, w["key"], CHANGE, {"id": sub, "i": change}))[
        "changeSubscription"
    ] == {"__typename": "SubscriptionSuccess"}
    update = (await _invoices(client, w, sub))[-1]
    # Half of April left: -5.00 for one seat, +15.00 for three; 10 % off each line.
    assert [
        (line["amount"]["amountMinor"], line["discount"]["amountMinor"]) for line in update["lines"]
    ] == [(-500, -50), (1500, 150)]
    assert (update["subtotal"]["amountMinor"], update["discount"]["amountMinor"]) == (1000, 100)
    assert update["couponCode"] == "TENOFF"

    # Prorations left for the next invoice are discounted with it.
    later = {"quantity": 1, "prorationBehavior": "CREATE_PRORATIONS"}
    data(await gql(client, w["key"], CHANGE, {"id": sub, "i": later}))
    await gql(client, w["key"], ADVANCE, {"id": w["clock"], "to": "2026-05-02T00:00:00Z"})
    renewal = (await _invoices(client, w, sub))[-1]
    assert [
        (line["kind"], line["amount"]["amountMinor"], line["discount"]["amountMinor"])
        for line in renewal["lines"]
    ] == [
        ("PLAN", 1000, 100),
        ("PRORATION_CREDIT", -1500, -150),
        ("PRORATION_CHARGE", 500, 50),
    ]


async def test_a_fixed_amount_coupon_is_not_taken_again_on_each_change(
    client: httpx.AsyncClient, db: str
) -> None:
    w = await _world(client)
    code = await _coupon(w, code="FIVEOFF", amounts_off=[{"currency": "EUR", "amount_minor": 500}])
    sub = await _subscribe(client, w, couponCode=code)
    await gql(client, w["key"], ADVANCE, {"id": w["clock"], "to": "2026-04-16T00:00:00Z"})
    change = {"quantity": 3, "prorationBehavior": "ALWAYS_INVOICE"}
    data(await gql(client, w["key"], CHANGE, {"id": sub, "i": change}))
    first, update = await _invoices(client, w, sub)
    assert first["discount"]["amountMinor"] == 500
    assert (update["subtotal"]["amountMinor"], update["discount"]["amountMinor"]) == (1000, 0)
