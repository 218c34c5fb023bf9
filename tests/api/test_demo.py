"""The demo catalog, queried the way the README tour does."""

from __future__ import annotations

import httpx

from db.models import Tenant
from domain.demo import DEMO_TENANT, seed_demo
from tests.api.helpers import data, gql


async def test_demo_catalog(client: httpx.AsyncClient, db: str) -> None:
    result = await seed_demo() if not await Tenant.exists(name=DEMO_TENANT) else None
    if result is None:  # already seeded by another test in this session
        return
    body = data(
        await gql(
            client,
            result.admin_key,
            """{
      plans(first: 20) { nodes { code monthlyCredits dailyCreditLimit trialDays
                                 dzd: price(currency: "DZD") { amountMinor formattedIn(locale: "fr") }
                                 eur: price(currency: "EUR") { amount } } }
      coupons { nodes { code } } addOns { nodes { code } } customers { totalCount }
    }""",
        )
    )
    plans = {p["code"]: p for p in body["plans"]["nodes"]}
    expected = {
        "free": (100, 20, 0),
        "starter": (500, 100, 200000),
        "pro": (2000, 500, 500000),
        "business": (10000, 2000, 1500000),
        "enterprise": (100000, None, 5000000),
    }
    for code, (credits, daily, dzd) in expected.items():
        assert (
            plans[code]["monthlyCredits"],
            plans[code]["dailyCreditLimit"],
            plans[code]["dzd"]["amountMinor"],
        ) == (credits, daily, dzd)
    assert plans["starter"]["dzd"]["formattedIn"] == "2\u202f000,00\u00a0DZD"
    assert (
        plans["premium-monthly"]["eur"] == {"amount": "29.99"}
        and plans["premium-monthly"]["trialDays"] == 14
    )
    assert {c["code"] for c in body["coupons"]["nodes"]} == {"WELCOME20", "LAUNCH10"}
    assert len(body["addOns"]["nodes"]) == 2 and body["customers"]["totalCount"] == 8
    billing = data(
        await gql(
            client,
            result.admin_key,
            """{ subscriptions { nodes { status plan { code } customer { externalId } } }
                 invoices { nodes { number total { amountMinor currency } taxes { rate } } }
                 testClocks { nodes { name } } }""",
        )
    )
    subs = {
        (s["customer"]["externalId"], s["plan"]["code"], s["status"])
        for s in billing["subscriptions"]["nodes"]
    }
    assert subs == {
        ("user-1001", "pro", "ACTIVE"),
        ("user-1002", "premium-monthly", "TRIALING"),
        ("user-1003", "business", "ACTIVE"),
        ("user-1006", "starter", "ACTIVE"),
        ("clock-1", "pro", "ACTIVE"),
        ("stream-1", "stream-ai", "ACTIVE"),
    }
    invoices = billing["invoices"]["nodes"]
    # Pro 5,000.00 DZD + 2 seats of 500.00, with 19 % TVA: 7,140.00 DZD.
    assert invoices[0]["total"] == {"amountMinor": 714000, "currency": "DZD"}
    assert invoices[0]["taxes"] == [{"rate": "19"}]
    # Five subscription invoices, and the e-book sold for the royalties demo (14.90 EUR).
    assert len(invoices) == 6 and all(i["number"].startswith("INV-") for i in invoices)
    assert invoices[5]["total"] == {"amountMinor": 1490, "currency": "EUR"}
    assert billing["testClocks"]["nodes"] == [{"name": "Demo clock"}]
    service = data(await gql(client, result.service_key, "{ viewer { role } }"))
    assert service["viewer"]["role"] == "SERVICE"
    # The README's credits tour: a month of Pro credits, a legal question, the wallet.
    spent = data(
        await gql(
            client,
            result.service_key,
            """mutation { consumeCredits(customerId: "user-1001", module: "legal",
                 action: "contract-review", requestId: "readme-1") {
                 ... on CreditConsumption { consumed cost balance remainingToday } } }""",
        )
    )
    assert spent["consumeCredits"] == {
        "consumed": True,
        "cost": 3,
        "balance": 1997,
        "remainingToday": 497,
    }
    wallet = data(
        await gql(
            client,
            result.admin_key,
            '{ creditWallet(customerId: "user-1001") { balance lots { kind remaining } } }',
        )
    )
    assert wallet["creditWallet"]["lots"] == [{"kind": "allowance", "remaining": 1997}]
