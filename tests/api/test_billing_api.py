"""Subscriptions, invoices, credit notes, test clocks and PDFs through real GraphQL
documents and HTTP, as a frontend or a partner backend would use them."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from db.querylog import count_statements
from domain.catalog.add_ons import create_add_on
from domain.events.bus import tenant_channel
from domain.invoicing.builder import TIMES
from domain.tenancy.access import Role
from domain.tenancy.api_keys import forget_keys
from tests.api.helpers import data, gql
from tests.api.live import serve, subscriber
from tests.factories import admin_of, make_customer, make_key, make_plan, make_test_tenant

CLOCK = """mutation($t: DateTime!) { createTestClock(name: "QA", frozenTime: $t) {
  __typename ... on TestClockSuccess { testClock { id frozenTime } } } }"""
CUSTOMER = """mutation($clock: ID!) { createCustomer(input: {name: "Ada", email: "ada@example.de",
  address: {country: "DE"}, taxId: "DE129273398", locale: "de", testClockId: $clock}) {
  ... on CustomerSuccess { customer { id } } } }"""
SUBSCRIBE = """mutation($i: CreateSubscriptionInput!, $k: String) {
  createSubscription(input: $i, idempotencyKey: $k) {
    __typename
    ... on SubscriptionSuccess { subscription { id status quantity currentPeriodEnd
        unitPrice { amountMinor } addOns { code quantity }
        upcomingInvoice { total { amountMinor } lines { kind amount { amountMinor } } } } }
    ... on Error { code message field } } }"""
INVOICES = """query($sub: ID!) { invoices(subscriptionId: $sub) { totalCount nodes {
  id number status overdue billingReason reverseCharge pdfUrl
  total { amountMinor formatted } amountDue { amountMinor } taxes { rate amount { amountMinor } }
  lines { kind description quantity amount { amountMinor } periodStart }
  customer { id } subscription { id } } } }"""
ADVANCE = """mutation($id: ID!, $to: DateTime!) { advanceTestClock(id: $id, to: $to) {
  __typename ... on TestClockSuccess { testClock { frozenTime } } ... on Error { code } } }"""
PREVIEW = """query($id: ID!, $i: ChangeSubscriptionInput!) { subscriptionChangePreview(id: $id, input: $i) {
  total { amountMinor } lines { kind description amount { amountMinor } periodStart periodEnd } } }"""
CHANGE = """mutation($id: ID!, $i: ChangeSubscriptionInput!) { changeSubscription(id: $id, input: $i) {
  __typename ... on SubscriptionSuccess { subscription { quantity scheduledChange { quantity } } }
  ... on Error { code field } } }"""
CREDIT = """mutation($i: CreateCreditNoteInput!) { createCreditNote(input: $i) { __typename
  ... on CreditNoteSuccess { creditNote { number total { amountMinor } appliedToInvoice { amountMinor }
      invoice { status amountDue { amountMinor } creditNotes { number } } pdfUrl } }
  ... on Error { code field message } } }"""
VOID = "mutation($id: ID!) { voidInvoice(id: $id) { __typename ... on Error { code } } }"


async def _setup(client: httpx.AsyncClient) -> dict[str, Any]:
    tenant = await make_test_tenant(country="FR")
    key = await make_key(tenant=tenant)
    plan = await make_plan(tenant=tenant, code="seat", name="Seat", prices=[("EUR", 1000)])
    extra = await create_add_on(
        admin_of(tenant),
        {
            "code": "support",
            "name": "Support",
            "kind": "recurring",
            "prices": [{"currency": "EUR", "amount_minor": 500}],
        },
    )
    clock = data(await gql(client, key, CLOCK, {"t": "2026-01-31T12:00:00Z"}))["createTestClock"]
    clock_id = clock["testClock"]["id"]
    customer = data(await gql(client, key, CUSTOMER, {"clock": clock_id}))["createCustomer"]
    return {
        "tenant": tenant,
        "key": key,
        "plan": plan,
        "add_on": extra,
        "clock": clock_id,
        "customer": customer["customer"]["id"],
    }


async def test_a_subscription_from_creation_to_credit_note(
    client: httpx.AsyncClient, db: str
) -> None:
    w = await _setup(client)
    key = w["key"]
    subscribe = {
        "customerId": w["customer"],
        "planId": w["plan"].public_id,
        "quantity": 3,
        "addOns": [{"addOnId": w["add_on"].public_id}],
    }
    created = data(await gql(client, key, SUBSCRIBE, {"i": subscribe, "k": "sub-1"}))[
        "createSubscription"
    ]
    assert created["__typename"] == "SubscriptionSuccess", created
    sub = created["subscription"]
    assert (sub["status"], sub["quantity"], sub["currentPeriodEnd"]) == (
        "ACTIVE",
        3,
        "2026-02-28T12:00:00+00:00",
    )
    assert sub["upcomingInvoice"]["total"]["amountMinor"] == 3500  # reverse charge: no VAT
    replay = data(await gql(client, key, SUBSCRIBE, {"i": subscribe, "k": "sub-1"}))[
        "createSubscription"
    ]
    assert replay["subscription"]["id"] == sub["id"]

    advanced = data(
        await gql(client, key, ADVANCE, {"id": w["clock"], "to": "2026-03-01T00:00:00Z"})
    )
    assert advanced["advanceTestClock"]["__typename"] == "TestClockSuccess"
    invoices = data(await gql(client, key, INVOICES, {"sub": sub["id"]}))["invoices"]
    assert invoices["totalCount"] == 2
    first, second = invoices["nodes"]
    assert first["number"] == "INV-2026-000001" and first["status"] == "OPEN"
    assert first["reverseCharge"] is True and first["taxes"] == [
        {"rate": "0", "amount": {"amountMinor": 0}}
    ]
    assert [
        (line["kind"], line["quantity"], line["amount"]["amountMinor"]) for line in first["lines"]
    ] == [("PLAN", 3, 3000), ("ADD_ON", 1, 500)]
    assert first["total"]["formatted"] == "€35.00"
    assert second["lines"][0]["periodStart"] == "2026-02-28T12:00:00+00:00"
    assert first["pdfUrl"].endswith(f"/invoices/{first['id']}.pdf")

    change = {"quantity": 5, "prorationBehavior": "ALWAYS_INVOICE"}
    preview = data(await gql(client, key, PREVIEW, {"id": sub["id"], "i": change}))[
        "subscriptionChangePreview"
    ]
    assert [line["kind"] for line in preview["lines"]] == ["PRORATION_CREDIT", "PRORATION_CHARGE"]
    assert (
        preview["lines"][0]["description"] == f"Nicht genutzte Zeit für 3 {TIMES} Seat"
    )  # the invoice's language
    changed = data(await gql(client, key, CHANGE, {"id": sub["id"], "i": change}))[
        "changeSubscription"
    ]
    assert changed["subscription"]["quantity"] == 5
    after = data(await gql(client, key, INVOICES, {"sub": sub["id"]}))["invoices"]["nodes"]
    assert after[-1]["billingReason"] == "subscription_update"
    assert after[-1]["total"]["amountMinor"] == preview["total"]["amountMinor"]

    scheduled = {"quantity": 1, "effective": "PERIOD_END"}
    later = data(await gql(client, key, CHANGE, {"id": sub["id"], "i": scheduled}))[
        "changeSubscription"
    ]
    assert later["subscription"]["scheduledChange"] == {"quantity": 1}

    credit = {
        "invoiceId": first["id"],
        "reason": "ORDER_CHANGE",
        "amount": {"currency": "EUR", "amount": "10.00"},
    }
    note = data(await gql(client, key, CREDIT, {"i": credit}))["createCreditNote"]
    assert note["__typename"] == "CreditNoteSuccess", note
    assert note["creditNote"]["number"] == "CN-2026-000001"
    assert note["creditNote"]["invoice"]["amountDue"]["amountMinor"] == 2500
    assert note["creditNote"]["invoice"]["creditNotes"] == [{"number": "CN-2026-000001"}]
    too_much = {**credit, "amount": {"currency": "EUR", "amountMinor": 2501}}
    refused = data(await gql(client, key, CREDIT, {"i": too_much}))["createCreditNote"]
    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "ValidationError",
        "CREDIT_NOTE_TOO_LARGE",
        "amount",
    )


async def test_bad_input_comes_back_as_typed_errors(client: httpx.AsyncClient, db: str) -> None:
    w = await _setup(client)
    key = w["key"]
    usd = {"customerId": w["customer"], "planId": w["plan"].public_id, "currency": "USD"}
    result = data(await gql(client, key, SUBSCRIBE, {"i": usd}))["createSubscription"]
    assert (result["__typename"], result["code"], result["field"]) == (
        "ValidationError",
        "PRICE_NOT_FOUND",
        "currency",
    )
    back = data(await gql(client, key, ADVANCE, {"id": w["clock"], "to": "2025-01-01T00:00:00Z"}))
    assert back["advanceTestClock"] == {"__typename": "ValidationError", "code": "CLOCK_BACKWARDS"}
    paid_free = await make_plan(tenant=w["tenant"], code="free", prices=[("EUR", 0)])
    free = {"customerId": w["customer"], "planId": paid_free.public_id}
    data(await gql(client, key, SUBSCRIBE, {"i": free}))
    invoices = data(await gql(client, key, "{ invoices(status: PAID) { nodes { id } } }"))[
        "invoices"
    ]["nodes"]
    voided = data(await gql(client, key, VOID, {"id": invoices[0]["id"]}))["voidInvoice"]
    assert voided == {"__typename": "ConflictError", "code": "INVALID_INVOICE_STATUS"}


async def test_roles_and_the_pdf_endpoint(client: httpx.AsyncClient, db: str) -> None:
    w = await _setup(client)
    subscribe = {"customerId": w["customer"], "planId": w["plan"].public_id}
    sub = data(await gql(client, w["key"], SUBSCRIBE, {"i": subscribe}))["createSubscription"][
        "subscription"
    ]
    invoice = data(await gql(client, w["key"], INVOICES, {"sub": sub["id"]}))["invoices"]["nodes"][
        0
    ]
    service = await make_key(tenant=w["tenant"], role=Role.SERVICE)
    seen = data(await gql(client, service, INVOICES, {"sub": sub["id"]}))["invoices"]["totalCount"]
    assert seen == 1
    denied = data(await gql(client, service, SUBSCRIBE, {"i": subscribe}))["createSubscription"]
    assert denied["__typename"] == "PermissionDeniedError"

    from db.models import Customer

    me = await Customer.get(public_id=w["customer"])
    other = await make_customer(tenant=w["tenant"], name="Other")
    mine = await make_key(tenant=w["tenant"], role=Role.CUSTOMER, customer=me)
    theirs = await make_key(tenant=w["tenant"], role=Role.CUSTOMER, customer=other)
    assert (
        data(await gql(client, mine, INVOICES, {"sub": sub["id"]}))["invoices"]["totalCount"] == 1
    )
    assert (
        data(await gql(client, theirs, INVOICES, {"sub": sub["id"]}))["invoices"]["totalCount"] == 0
    )

    path = f"/invoices/{invoice['id']}.pdf"
    for token, status in (
        (w["key"], 200),
        (mine, 200),
        (service, 200),
        (theirs, 404),
        (None, 401),
        ("tly_bad", 401),
    ):
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await client.get(path, headers=headers)
        assert response.status_code == status, (token, response.text)
        if status == 200:
            assert response.headers["content-type"] == "application/pdf"
            assert response.content.startswith(b"%PDF-")
    assert (
        await client.get(
            "/invoices/in_0000000000000000.pdf", headers={"authorization": f"Bearer {w['key']}"}
        )
    ).status_code == 404


@pytest.mark.parametrize("size", [1, 6])
async def test_invoice_page_statements_do_not_grow(
    client: httpx.AsyncClient, db: str, size: int
) -> None:
    w = await _setup(client)
    for _ in range(size):
        data(
            await gql(
                client,
                w["key"],
                SUBSCRIBE,
                {"i": {"customerId": w["customer"], "planId": w["plan"].public_id}},
            )
        )
    query = """{ invoices(first: 50) { nodes { number lines { amount { amountMinor } }
      customer { name } subscription { status } creditNotes { number } } } }"""
    forget_keys()  # count the cold case: the key lookup included
    with count_statements() as statements:
        nodes = data(await gql(client, w["key"], query))["invoices"]["nodes"]
    assert len(nodes) == size
    # key+tenant, invoices, lines, customers, subscriptions, credit notes
    assert len(statements) == 6, statements


async def test_invoice_events_reach_a_subscriber(app: Any, db: str) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        w = await _setup(client)
    async with serve(app) as host, subscriber(host, w["key"]) as sub:
        assert (await sub.receive())["type"] == "connection_ack"
        document = "subscription($c: ID) { invoiceEvents(customerId: $c) { type invoiceId status customerId } }"
        await sub.send(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": document, "variables": {"c": w["customer"]}},
            }
        )
        # Publish only once the server holds the subscription (an event sent before is
        # not replayed). Nothing announces that: poll the in-process bus's count.
        channel = tenant_channel(w["tenant"].id)
        async with asyncio.timeout(5):
            while app.state.bus.subscriber_count(channel) < 1:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://{host}") as http:
            response = await http.post(
                "/graphql",
                json={
                    "query": SUBSCRIBE,
                    "variables": {
                        "i": {"customerId": w["customer"], "planId": w["plan"].public_id}
                    },
                },
                headers={"authorization": f"Bearer {w['key']}"},
            )
            assert response.status_code == 200
        event = (await asyncio.wait_for(sub.receive(), 5))["payload"]["data"]["invoiceEvents"]
        assert (event["type"], event["status"], event["customerId"]) == (
            "invoice.finalized",
            "OPEN",
            w["customer"],
        )


TENANT = """mutation { updateTenant(input: {invoicePrefix: "acme", numberDigits: 4,
  numberReset: NEVER, taxRegistrations: ["EU_OSS", "us"], billingEmail: "billing@acme.test"}) {
  __typename ... on TenantSuccess { tenant { invoicePrefix numberDigits numberReset
    taxRegistrations billingEmail } } ... on Error { code field } } }"""
RATE = """mutation($rate: String!) { setTaxRate(input: {country: "US", region: "NY",
  name: "NY sales tax", rate: $rate, validFrom: "2020-01-01"}) {
  __typename ... on TaxRateSuccess { taxRate { id country region rate } } ... on Error { code field } } }"""
ONE_OFF = """mutation($c: ID!) { createInvoice(input: {customerId: $c, finalize: true,
  items: [{description: "Audit", quantity: 2, unitPrice: {currency: "USD", amount: "100.00"}}]}) {
  __typename ... on InvoiceSuccess { invoice { id number tax { amountMinor } taxes { name rate } } }
  ... on Error { code message field } } }"""


async def test_tenant_settings_tax_rates_and_credit_note_pdfs(
    client: httpx.AsyncClient, db: str
) -> None:
    w = await _setup(client)
    key = w["key"]
    tenant = data(await gql(client, key, TENANT))["updateTenant"]
    assert tenant["tenant"] == {
        "invoicePrefix": "ACME",
        "numberDigits": 4,
        "numberReset": "NEVER",
        "taxRegistrations": ["EU_OSS", "US"],
        "billingEmail": "billing@acme.test",
    }
    bad = data(await gql(client, key, RATE, {"rate": "120"}))["setTaxRate"]
    assert (bad["__typename"], bad["field"]) == ("ValidationError", "rate")
    rate = data(await gql(client, key, RATE, {"rate": "4.5"}))["setTaxRate"]["taxRate"]
    assert (rate["country"], rate["region"], rate["rate"]) == ("US", "NY", "4.5")
    listed = data(await gql(client, key, "{ taxRates { id rate } }"))["taxRates"]
    assert listed == [{"id": rate["id"], "rate": "4.5"}]

    customer = await make_customer(
        tenant=w["tenant"], country="US", currency="USD", address={"state": "NY"}
    )
    invoice = data(await gql(client, key, ONE_OFF, {"c": customer.public_id}))["createInvoice"]
    assert invoice["invoice"]["number"] == "ACME-0001"
    assert invoice["invoice"]["tax"] == {"amountMinor": 900}
    assert invoice["invoice"]["taxes"] == [{"name": "NY sales tax", "rate": "4.5"}]
    credit = {"invoiceId": invoice["invoice"]["id"], "reason": "DUPLICATE"}
    note = data(await gql(client, key, CREDIT, {"i": credit}))["createCreditNote"]["creditNote"]
    assert note["total"] == {"amountMinor": 20900}
    response = await client.get(
        note["pdfUrl"].replace("http://test", ""), headers={"authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    deleted = data(
        await gql(
            client,
            key,
            "mutation($id: ID!) { deleteTaxRate(id: $id) { __typename } }",
            {"id": rate["id"]},
        )
    )
    assert deleted["deleteTaxRate"]["__typename"] == "TaxRateSuccess"


SEND = """mutation($id: ID!) { sendInvoice(id: $id) { __typename
  ... on InvoiceSuccess { invoice { sentAt } } ... on Error { code } } }"""


async def test_send_invoice_over_graphql(settings: Any, db: str, smtp: Any) -> None:
    import dataclasses

    from server import create_app

    url, inbox = smtp
    app = create_app(
        dataclasses.replace(settings, smtp_url=url, mail_from="billing@tally.test"),
        manage_db=False,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        w = await _setup(client)
        subscribe = {"customerId": w["customer"], "planId": w["plan"].public_id}
        sub = data(await gql(client, w["key"], SUBSCRIBE, {"i": subscribe}))["createSubscription"]
        invoice = data(await gql(client, w["key"], INVOICES, {"sub": sub["subscription"]["id"]}))
        invoice_id = invoice["invoices"]["nodes"][0]["id"]
        sent = data(await gql(client, w["key"], SEND, {"id": invoice_id}))["sendInvoice"]
    assert sent["__typename"] == "InvoiceSuccess" and sent["invoice"]["sentAt"]
    (message,) = inbox.messages
    assert message["Subject"].startswith("Rechnung INV-2026-")  # the customer writes German
    assert "billing@tally.test" in message["From"]


async def test_overdue_on_a_test_clock(client: httpx.AsyncClient, db: str) -> None:
    w = await _setup(client)
    subscribe = {"customerId": w["customer"], "planId": w["plan"].public_id}
    data(await gql(client, w["key"], SUBSCRIBE, {"i": subscribe}))
    query = "{ invoices(overdue: true) { totalCount nodes { overdue dueAt } } }"
    assert data(await gql(client, w["key"], query))["invoices"]["totalCount"] == 0
    # Due 30 days after Jan 31 (Mar 2); the clock passes that, the real clock has long.
    await gql(client, w["key"], ADVANCE, {"id": w["clock"], "to": "2026-03-03T00:00:00Z"})
    late = data(await gql(client, w["key"], query))["invoices"]
    assert late["totalCount"] == 1 and late["nodes"][0]["overdue"] is True
    assert late["nodes"][0]["dueAt"] == "2026-03-02T12:00:00+00:00"


async def test_credit_on_a_paid_invoice_shows_as_customer_credit(
    client: httpx.AsyncClient, db: str
) -> None:
    from db.invoice_models import Invoice

    w = await _setup(client)
    key = w["key"]
    customer = await make_customer(tenant=w["tenant"], country="US", currency="USD")
    invoice = data(await gql(client, key, ONE_OFF, {"c": customer.public_id}))["createInvoice"]
    await Invoice.filter(public_id=invoice["invoice"]["id"]).update(
        status="paid", amount_paid_minor=20000, amount_due_minor=0
    )
    credit = {
        "invoiceId": invoice["invoice"]["id"],
        "reason": "PRODUCT_UNSATISFACTORY",
        "amount": {"currency": "USD", "amount": "50.00"},
    }
    note = data(await gql(client, key, CREDIT, {"i": credit}))["createCreditNote"]
    assert note["creditNote"]["appliedToInvoice"] == {"amountMinor": 0}
    query = "query($id: ID!) { customer(id: $id) { creditBalance { amountMinor currency } } }"
    balance = data(await gql(client, key, query, {"id": customer.public_id}))["customer"]
    assert balance["creditBalance"] == [{"amountMinor": 5000, "currency": "USD"}]


async def test_customer_tokens_filter_by_their_own_customer(
    client: httpx.AsyncClient, db: str
) -> None:
    from db.models import Customer

    w = await _setup(client)
    subscribe = {"customerId": w["customer"], "planId": w["plan"].public_id}
    data(await gql(client, w["key"], SUBSCRIBE, {"i": subscribe}))
    me = await Customer.get(public_id=w["customer"])
    token = await make_key(tenant=w["tenant"], role=Role.CUSTOMER, customer=me)
    other = await make_customer(tenant=w["tenant"], name="Other")
    query = """query($c: ID!) { invoices(customerId: $c) { totalCount }
      subscriptions(customerId: $c) { totalCount } }"""
    mine = data(await gql(client, token, query, {"c": me.public_id}))
    assert mine == {"invoices": {"totalCount": 1}, "subscriptions": {"totalCount": 1}}
    theirs = await gql(client, token, query, {"c": other.public_id})
    assert theirs["errors"][0]["extensions"]["code"] == "NOT_FOUND"
