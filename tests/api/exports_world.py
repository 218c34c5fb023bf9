"""Two tenants with a little of everything the exports read (issue 17), made through
the domain: customers (one whose name is a formula), a subscription, invoices in
EUR, JPY and KWD, a manual payment, credit grants, usage events, a royalty statement
from a real royalty run; an MRR movement in KWD written as a row (beside whatever the
subscription's creation logged)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import openpyxl

from db.analytics_models import MrrMovement
from db.invoice_models import Invoice
from db.models import Customer, Subscription
from db.payment_models import Payment
from db.royalty_models import RoyaltyStatement
from domain import clock
from domain.credits.admin import grant_credits
from domain.invoicing.service import create_invoice
from domain.tenancy.access import Principal, Role
from domain.usage.charges import create_charge
from domain.usage.ingest import ACCEPTED, ingest_events
from domain.usage.metrics import create_metric
from tests.domain.royalties.world import RoyaltyWorld
from tests.factories import admin_of, make_customer, make_key, make_plan, make_subscription

KINDS = (
    "customers",
    "subscriptions",
    "invoices",
    "payments",
    "credit-ledger",
    "usage",
    "royalty-statements",
    "mrr-movements",
)


FORMULA_NAME = '=HYPERLINK("http://evil.example","click")'


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class ExportWorld:
    tenant: Any
    admin: Principal
    key: str  # an admin key
    analyst: str
    ada: Customer  # EUR, FR
    evil: Customer  # JPY, a formula for a name
    subscription: Subscription
    invoices: dict[str, Invoice]  # by currency
    payment: Payment
    statement: RoyaltyStatement
    other_key: str  # the other tenant's admin key
    other_customer: Customer


async def _invoice(admin: Principal, customer: Customer, currency: str, minor: int, at: datetime):
    with clock.frozen_at(at):
        invoice = await create_invoice(
            admin,
            {
                "customer_id": customer.public_id,
                "currency": currency,
                "finalize": True,
                "items": [
                    {
                        "description": "Consulting",
                        "unit_price": {"currency": currency, "amount_minor": minor},
                    }
                ],
            },
        )
    return await Invoice.get(id=invoice.id)


async def _movement(
    tenant: Any, sub: Subscription, currency: str, after: int, at: datetime
) -> None:
    await MrrMovement.create(
        tenant_id=tenant.id,
        customer_id=sub.customer_id,
        subscription_id=sub.id,
        currency=currency,
        occurred_at=at,
        cause="imported",
        kind="new",
        subscription_mrr_before=0,
        subscription_mrr_after=after,
        customer_mrr_before=0,
        customer_mrr_after=after,
        customers_delta=1,
        terms={"status": "active"},
    )


async def build_world() -> ExportWorld:
    world = await RoyaltyWorld.create()  # a FR tenant in EUR, its customer "Reader"
    tenant, admin = world.tenant, world.admin
    payee = await world.payee("Ann Author")
    book = await world.work("book", {payee: "100"})
    sold = await world.sell(book, 12_345, utc(2026, 10, 3, 9, 30))  # paid by transfer
    await world.run("2026-10")
    ada = await make_customer(
        tenant=tenant, name="Ada", country="FR", external_id="ada-1", email="ada@example.com"
    )
    evil = await make_customer(tenant=tenant, name=FORMULA_NAME, country="JP", currency="JPY")
    await make_customer(tenant=tenant, name='O\'Brien, "Ltd"', email=None)  # quoted in CSV
    plan = await make_plan(tenant=tenant, prices=[("EUR", 2_999)], name="Metered")
    await create_metric(admin, {"code": "calls", "name": "Calls", "aggregation": "COUNT"})
    await create_charge(
        admin,
        {
            "plan_id": plan.public_id,
            "metric_id": "calls",
            "model": "PER_UNIT",
            "prices": [{"currency": "EUR", "properties": {"unitPrice": "0.01"}}],
        },
    )
    with clock.frozen_at(utc(2026, 11, 1)):
        sub = await make_subscription(tenant=tenant, customer=ada, plan=plan)
    report = await ingest_events(
        admin,
        [
            {"transactionId": "-tx-1", "customerId": ada.public_id, "metricCode": "calls"},
            {
                "transactionId": "tx-2",
                "customerId": ada.public_id,
                "metricCode": "calls",
                "properties": {"route": "/search", "n": 2},
            },
        ],
    )
    assert report.count(ACCEPTED) == 2, report.outcomes
    jpy = await _invoice(admin, evil, "JPY", 5_000, utc(2026, 11, 5))
    kwd = await _invoice(admin, ada, "KWD", 12_345, utc(2026, 11, 20))
    await grant_credits(admin, ada.public_id, 100, reason="=1+1 welcome", author="@ops")
    await grant_credits(admin, evil.public_id, 7, reason="plain")
    await _movement(tenant, sub, "KWD", 12_345, utc(2026, 11, 2))  # as an import would

    other = await RoyaltyWorld.create()
    other_customer = await make_customer(tenant=other.tenant, name="Other tenant's")
    await grant_credits(other.admin, other_customer.public_id, 50, reason="theirs")
    await _invoice(other.admin, other_customer, "EUR", 999, utc(2026, 11, 6))
    return ExportWorld(
        tenant=tenant,
        admin=admin_of(tenant),
        key=await make_key(tenant=tenant),
        analyst=await make_key(tenant=tenant, role=Role.ANALYST),
        ada=ada,
        evil=evil,
        subscription=sub,
        invoices={"EUR": sold, "JPY": jpy, "KWD": kwd},
        payment=await Payment.get(invoice_id=sold.id),
        statement=await RoyaltyStatement.get(payee_id=payee.id, period="2026-10"),
        other_key=await make_key(tenant=other.tenant),
        other_customer=other_customer,
    )


# -- reading an export ------------------------------------------------------------------
async def get_export(client: httpx.AsyncClient, key: str | None, name: str, **params: str):
    headers = {} if key is None else {"authorization": f"Bearer {key}"}
    return await client.get(f"/exports/{name}", params=params, headers=headers)


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.text, newline="")))


def read_json(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return json.loads(response.content)


def read_xlsx(response: httpx.Response) -> tuple[list[str], list[list[Any]]]:
    """The header and the cells of the first sheet (openpyxl cells, for their format)."""
    assert response.status_code == 200, response.text
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows = list(sheet.iter_rows())
    return [c.value for c in rows[0]], [list(r) for r in rows[1:]]


def iso(at: datetime | None) -> str:
    return "" if at is None else at.astimezone(UTC).isoformat()


def naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def by_id(rows: list[dict[str, Any]], key: str = "id") -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in rows}
