"""Bounds on what one billing request may ask for (issue 13, items 4, 7 and 12):
how far back a subscription may start, how far a test clock may jump, dates too
far out to do arithmetic on, amounts above the ceiling, credit-note reasons and
memo length. Each refusal is a typed error naming its field, and stores nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from db.invoice_models import CreditNote, Invoice
from db.models import AddOn, Plan, Subscription
from db.models import TestClock as ClockRow
from tests.api.helpers import data, gql
from tests.factories import make_key, make_plan, make_test_tenant

CLOCK = """mutation($t: DateTime!) { createTestClock(name: "QA", frozenTime: $t) {
  __typename ... on TestClockSuccess { testClock { id } } ... on Error { code field } } }"""
CUSTOMER = """mutation($clock: ID) { createCustomer(input: {name: "Ada", email: "ada@example.fr",
  address: {country: "FR"}, testClockId: $clock}) { ... on CustomerSuccess { customer { id } } } }"""
SUBSCRIBE = """mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) {
  __typename ... on SubscriptionSuccess { subscription { id } }
  ... on Error { code field message } } }"""
CHANGE = """mutation($id: ID!, $i: ChangeSubscriptionInput!) { changeSubscription(id: $id, input: $i) {
  __typename ... on Error { code field } } }"""
ADVANCE = """mutation($id: ID!, $to: DateTime!) { advanceTestClock(id: $id, to: $to) {
  __typename ... on TestClockSuccess { testClock { frozenTime } } ... on Error { code field } } }"""
INVOICES = """query($from: DateTime, $to: DateTime) { invoices(periodFrom: $from, periodTo: $to) {
  totalCount } }"""
PLAN = """mutation($p: [MoneyInput!]!) { createPlan(input: {code: "big", name: "Big",
  interval: MONTH, prices: $p}) { __typename ... on Error { code field } } }"""
INVOICE = """mutation($c: ID!, $q: Int!, $a: BigInt!) { createInvoice(input: {customerId: $c,
  items: [{description: "Work", quantity: $q, unitPrice: {currency: "EUR", amountMinor: $a}}]}) {
  __typename ... on InvoiceSuccess { invoice { id subtotal { amountMinor } } }
  ... on Error { code field } } }"""
FINALIZE = """mutation($id: ID!) { finalizeInvoice(id: $id) { __typename } }"""
CREDIT = """mutation($i: CreateCreditNoteInput!) { createCreditNote(input: $i) { __typename
  ... on CreditNoteSuccess { creditNote { reason memo total { amountMinor } } }
  ... on Error { code field } } }"""


async def _world(client: httpx.AsyncClient, *, clock_at: str | None = None) -> dict[str, Any]:
    tenant = await make_test_tenant(country="FR")
    key = await make_key(tenant=tenant)
    clock = None
    if clock_at is not None:
        made = data(await gql(client, key, CLOCK, {"t": clock_at}))["createTestClock"]
        clock = made["testClock"]["id"]
    customer = data(await gql(client, key, CUSTOMER, {"clock": clock}))["createCustomer"]
    plan = await make_plan(tenant=tenant, code="basic", prices=[("EUR", 1000)])
    return {
        "tenant": tenant,
        "key": key,
        "clock": clock,
        "customer": customer["customer"]["id"],
        "plan": plan,
    }


# -- item 4: backdating and clock jumps ----------------------------------------------------


@pytest.mark.parametrize(
    ("start", "code"),
    [
        ("0001-01-01T00:00:00Z", "DATE_OUT_OF_RANGE"),
        ("2025-03-31T00:00:00Z", "START_DATE_TOO_EARLY"),
    ],
)
async def test_a_start_date_more_than_a_year_back_is_refused(
    client: httpx.AsyncClient, db: str, start: str, code: str
) -> None:
    w = await _world(client, clock_at="2026-04-01T00:00:00Z")
    sub = {"customerId": w["customer"], "planId": w["plan"].public_id, "startDate": start}
    refused = data(await gql(client, w["key"], SUBSCRIBE, {"i": sub}))["createSubscription"]
    assert (refused["__typename"], refused["field"]) == ("ValidationError", "startDate")
    assert refused["code"] == code
    assert await Subscription.filter(tenant_id=w["tenant"].id).count() == 0
    assert await Invoice.filter(tenant_id=w["tenant"].id).count() == 0


async def test_a_start_date_a_year_back_bills_the_year(client: httpx.AsyncClient, db: str) -> None:
    w = await _world(client, clock_at="2026-04-01T00:00:00Z")
    sub = {
        "customerId": w["customer"],
        "planId": w["plan"].public_id,
        "startDate": "2025-04-01T00:00:00Z",
    }
    made = data(await gql(client, w["key"], SUBSCRIBE, {"i": sub}))["createSubscription"]
    assert made["__typename"] == "SubscriptionSuccess", made
    assert await Invoice.filter(tenant_id=w["tenant"].id).count() == 13


async def test_a_test_clock_jumps_at_most_two_years(client: httpx.AsyncClient, db: str) -> None:
    w = await _world(client, clock_at="2026-04-01T00:00:00Z")
    sub = {"customerId": w["customer"], "planId": w["plan"].public_id}
    assert data(await gql(client, w["key"], SUBSCRIBE, {"i": sub}))["createSubscription"][
        "__typename"
    ] == ("SubscriptionSuccess")
    for to in ("2126-04-01T00:00:00Z", "2028-04-01T00:00:01Z"):
        refused = data(await gql(client, w["key"], ADVANCE, {"id": w["clock"], "to": to}))
        assert refused["advanceTestClock"] == {
            "__typename": "ValidationError",
            "code": "CLOCK_JUMP_TOO_LARGE",
            "field": "to",
        }
    assert await Invoice.filter(tenant_id=w["tenant"].id).count() == 1
    moved = data(
        await gql(client, w["key"], ADVANCE, {"id": w["clock"], "to": "2028-04-01T00:00:00Z"})
    )
    assert moved["advanceTestClock"]["__typename"] == "TestClockSuccess"
    assert await Invoice.filter(tenant_id=w["tenant"].id).count() == 25


@pytest.mark.parametrize(
    "at", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "1800-01-01T00:00:00Z"]
)
async def test_dates_out_of_range_are_typed_errors(
    client: httpx.AsyncClient, db: str, at: str
) -> None:
    w = await _world(client)
    key = w["key"]
    for variables in ({"from": at}, {"to": at}):
        body = await gql(client, key, INVOICES, variables)
        assert body["data"] is None
        (error,) = body["errors"]
        assert error["message"] != "Unexpected error."
        assert error["extensions"]["code"] == "DATE_OUT_OF_RANGE"
    clock = data(await gql(client, key, CLOCK, {"t": at}))["createTestClock"]
    assert clock == {
        "__typename": "ValidationError",
        "code": "DATE_OUT_OF_RANGE",
        "field": "frozenTime",
    }
    sub = {"customerId": w["customer"], "planId": w["plan"].public_id, "billingAnchor": at}
    refused = data(await gql(client, key, SUBSCRIBE, {"i": sub}))["createSubscription"]
    assert (refused["code"], refused["field"]) == ("DATE_OUT_OF_RANGE", "billingAnchor")
    sub = {"customerId": w["customer"], "planId": w["plan"].public_id, "startDate": at}
    refused = data(await gql(client, key, SUBSCRIBE, {"i": sub}))["createSubscription"]
    assert refused["field"] == "startDate"
    assert await ClockRow.filter(tenant_id=w["tenant"].id).count() == 0
    assert await Subscription.filter(tenant_id=w["tenant"].id).count() == 0


# -- item 7: the amount ceiling ------------------------------------------------------------


async def test_amounts_above_the_ceiling_are_refused(client: httpx.AsyncClient, db: str) -> None:
    w = await _world(client)
    key, tenant = w["key"], w["tenant"]
    over = [{"currency": "EUR", "amountMinor": 10**15 + 1}]
    plan = data(await gql(client, key, PLAN, {"p": over}))["createPlan"]
    assert plan == {
        "__typename": "ValidationError",
        "code": "AMOUNT_TOO_LARGE",
        "field": "prices[0]",
    }
    assert not await Plan.filter(tenant_id=tenant.id, code="big").exists()
    # 9·10^18 is a BIGINT but above the ceiling: it cannot be a price either.
    huge = [{"currency": "EUR", "amountMinor": 9 * 10**18}]
    plan = data(await gql(client, key, PLAN, {"p": huge}))["createPlan"]
    assert plan["code"] == "AMOUNT_TOO_LARGE"

    top = await make_plan(tenant=tenant, code="top", prices=[("EUR", 10**15)])
    sub = {"customerId": w["customer"], "planId": top.public_id, "quantity": 3}
    refused = data(await gql(client, key, SUBSCRIBE, {"i": sub}))["createSubscription"]
    assert (refused["code"], refused["field"]) == ("AMOUNT_TOO_LARGE", "quantity")
    assert await Subscription.filter(tenant_id=tenant.id).count() == 0

    fine = {"customerId": w["customer"], "planId": w["plan"].public_id}
    made = data(await gql(client, key, SUBSCRIBE, {"i": fine}))["createSubscription"]
    to_top = {"planId": top.public_id, "quantity": 2}
    changed = data(await gql(client, key, CHANGE, {"id": made["subscription"]["id"], "i": to_top}))[
        "changeSubscription"
    ]
    assert changed == {
        "__typename": "ValidationError",
        "code": "AMOUNT_TOO_LARGE",
        "field": "quantity",
    }

    line = data(await gql(client, key, INVOICE, {"c": w["customer"], "q": 1000, "a": 10**13}))[
        "createInvoice"
    ]
    assert line == {
        "__typename": "ValidationError",
        "code": "AMOUNT_TOO_LARGE",
        "field": "items[0]",
    }
    at_ceiling = data(await gql(client, key, INVOICE, {"c": w["customer"], "q": 100, "a": 10**13}))[
        "createInvoice"
    ]
    assert at_ceiling["invoice"]["subtotal"]["amountMinor"] == 10**15  # tax comes on top


async def test_an_add_on_above_the_ceiling_is_refused(client: httpx.AsyncClient, db: str) -> None:
    w = await _world(client)
    add_on = """mutation { createAddOn(input: {code: "x", name: "X", kind: RECURRING,
      prices: [{currency: "EUR", amountMinor: 1000000000000001}]}) { __typename
      ... on Error { code field } } }"""
    made = data(await gql(client, w["key"], add_on))["createAddOn"]
    assert made == {
        "__typename": "ValidationError",
        "code": "AMOUNT_TOO_LARGE",
        "field": "prices[0]",
    }
    assert not await AddOn.filter(tenant_id=w["tenant"].id).exists()


# -- item 12: credit-note reasons and memo -------------------------------------------------


async def _paid_invoice(client: httpx.AsyncClient, w: dict[str, Any]) -> str:
    made = data(await gql(client, w["key"], INVOICE, {"c": w["customer"], "q": 1, "a": 70_000}))
    invoice_id = made["createInvoice"]["invoice"]["id"]
    data(await gql(client, w["key"], FINALIZE, {"id": invoice_id}))
    return invoice_id


REASONS = [
    "DUPLICATE",
    "FRAUDULENT",
    "ORDER_CHANGE",
    "PRODUCT_UNSATISFACTORY",
    "OTHER",
    "REQUESTED_BY_CUSTOMER",
    "DISPUTE_LOST",
]


async def test_every_credit_note_reason_the_schema_offers_is_accepted(
    client: httpx.AsyncClient, db: str
) -> None:
    w = await _world(client)
    invoice_id = await _paid_invoice(client, w)
    for reason in REASONS:
        credit = {
            "invoiceId": invoice_id,
            "reason": reason,
            "amount": {"currency": "EUR", "amountMinor": 100},
        }
        note = data(await gql(client, w["key"], CREDIT, {"i": credit}))["createCreditNote"]
        assert note["__typename"] == "CreditNoteSuccess", (reason, note)
        assert note["creditNote"]["reason"] == reason


async def test_an_over_long_credit_note_memo_is_refused_not_cut(
    client: httpx.AsyncClient, db: str
) -> None:
    w = await _world(client)
    invoice_id = await _paid_invoice(client, w)
    credit = {"invoiceId": invoice_id, "reason": "OTHER", "memo": "x" * 2001}
    refused = data(await gql(client, w["key"], CREDIT, {"i": credit}))["createCreditNote"]
    assert refused == {"__typename": "ValidationError", "code": "VALIDATION_ERROR", "field": "memo"}
    assert await CreditNote.filter(tenant_id=w["tenant"].id).count() == 0
    credit["memo"] = "y" * 2000
    note = data(await gql(client, w["key"], CREDIT, {"i": credit}))["createCreditNote"]
    assert note["creditNote"]["memo"] == "y" * 2000
