"""The demo catalog loaded by `seed-demo` (and by `make run` on an empty database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tortoise.transactions import in_transaction

from db.models import Tenant
from domain import clock
from domain.catalog.add_ons import create_add_on
from domain.catalog.coupons import create_coupon
from domain.catalog.plans import create_plan
from domain.customers.service import create_customer
from domain.tenancy.access import Principal, Role
from domain.tenancy.api_keys import issue_key
from domain.tenancy.tenants import create_tenant

DEMO_TENANT = "Tally Demo"

# code, name, monthly credits, daily limit (None = unlimited), DZD, EUR, USD (minor units)
TIERS = [
    ("free", "Free", 100, 20, 0, 0, 0),
    ("starter", "Starter", 500, 100, 200_000, 1_400, 1_500),
    ("pro", "Pro", 2_000, 500, 500_000, 3_500, 3_900),
    ("business", "Business", 10_000, 2_000, 1_500_000, 9_900, 10_900),
    ("enterprise", "Enterprise", 100_000, None, 5_000_000, 34_900, 37_900),
]
FEATURES = {
    "free": ["rag"],
    "starter": ["rag", "api"],
    "pro": ["rag", "api", "legal", "fiscal"],
    "business": ["rag", "api", "legal", "fiscal", "voice", "park"],
    "enterprise": ["rag", "api", "legal", "fiscal", "voice", "park", "sso"],
}
CUSTOMERS = [
    ("user-1001", "Amina Benali", "amina@example.dz", "DZ", "Alger", "fr", "DZD", "Africa/Algiers"),
    ("user-1002", "Lucie Martin", "lucie@example.fr", "FR", "Lyon", "fr", "EUR", "Europe/Paris"),
    (
        "user-1003",
        "Jonas Weber GmbH",
        "billing@weber.example",
        "DE",
        "Berlin",
        "de",
        "EUR",
        "Europe/Berlin",
    ),
    ("user-1004", "Carmen Ruiz", "carmen@example.es", "ES", "Madrid", "es", "EUR", "Europe/Madrid"),
    (
        "user-1005",
        "Omar Haddad",
        "omar@example.ma",
        "MA",
        "Rabat",
        "ar",
        "MAD",
        "Africa/Casablanca",
    ),
    (
        "user-1006",
        "Jane Cooper",
        "jane@example.com",
        "US",
        "Austin",
        "en",
        "USD",
        "America/Chicago",
    ),
]


@dataclass(frozen=True, slots=True)
class SeedResult:
    tenant: Tenant
    admin_key: str
    service_key: str
    customer_key: str  # user-1001's customer token: signs in to the portal
    created: bool


async def _billing(admin: Principal, plans: dict[str, Any], customers: dict[str, Any]) -> None:
    """Algerian TVA, credit settings, a few live subscriptions with their first
    invoices (and their first month of credits), and a test clock with a customer on
    it to try `advanceTestClock`."""
    from datetime import date

    from db.models import AddOn
    from domain.billing.simulated_clocks import create_test_clock
    from domain.credits.admin import update_credit_settings
    from domain.invoicing.tax.admin import set_tax_rate
    from domain.subscriptions.service import create_subscription

    await set_tax_rate(
        admin, {"country": "DZ", "name": "TVA", "rate": "19", "valid_from": date(2017, 1, 1)}
    )
    # Credits: the default module costs, a low-balance alert, and top-up prices.
    await update_credit_settings(
        admin,
        {
            "low_threshold": 50,
            "unit_prices": [
                {"currency": "DZD", "amount_minor": 500},
                {"currency": "EUR", "amount_minor": 3},
                {"currency": "USD", "amount_minor": 3},
            ],
        },
    )
    seat = await AddOn.get(tenant_id=admin.tenant_id, code="extra-seat")
    subscriptions = [
        ("user-1001", "pro", {"add_ons": [{"add_on_id": seat.public_id, "quantity": 2}]}),
        ("user-1002", "premium", {}),  # 14-day trial
        ("user-1003", "business", {"quantity": 3, "coupon_code": "WELCOME20"}),
        ("user-1006", "starter", {}),
    ]
    for ext, plan, extra in subscriptions:
        await create_subscription(
            admin,
            {"customer_id": customers[ext].public_id, "plan_id": plans[plan].public_id, **extra},
        )
    test_clock = await create_test_clock(admin, "Demo clock", clock.now())
    on_clock = await create_customer(
        admin,
        {
            "external_id": "clock-1",
            "name": "Test Clock Customer",
            "email": "clock@example.fr",
            "address": {"city": "Paris", "country": "FR"},
            "locale": "fr",
            "currency": "EUR",
            "test_clock_id": test_clock.public_id,
        },
    )
    await create_subscription(
        admin, {"customer_id": on_clock.public_id, "plan_id": plans["pro"].public_id}
    )
    await _streaming(admin, test_clock)


async def _streaming(admin: Principal, test_clock: Any) -> None:
    """Usage-based billing (docs/USAGE.md): the streaming and AI recipe's plan, and a
    customer on the demo clock who has used it (advance the clock a month to see
    the usage on its invoice)."""
    from domain.subscriptions.service import create_subscription
    from domain.usage.ingest import ingest_events
    from domain.usage.recipes import streaming_catalog

    plan = await streaming_catalog(admin)
    streamer = await create_customer(
        admin,
        {
            "external_id": "stream-1",
            "name": "Nova Streams SAS",
            "email": "billing@nova.example",
            "address": {"city": "Nantes", "country": "FR"},
            "locale": "fr",
            "currency": "EUR",
            "test_clock_id": test_clock.public_id,
        },
    )
    await create_subscription(admin, {"customer_id": streamer.public_id, "plan_id": plan.public_id})
    await ingest_events(
        admin,
        [
            {
                "transactionId": f"demo-{n}",
                "externalCustomerId": "stream-1",
                "metricCode": code,
                "properties": props,
            }
            for n, (code, props) in enumerate(
                [
                    ("session_seconds", {"seconds": 3_601}),
                    ("session_seconds", {"seconds": 1_250}),
                    ("bandwidth", {"bytes": 48_500_000_000}),
                    ("tokens", {"tokens": 1_200_000, "direction": "input", "model": "large"}),
                    ("tokens", {"tokens": 300_000, "direction": "output", "model": "large"}),
                    ("concurrent_streams", {"change": 3}),
                    ("infra_cost", {"cost": "12.40"}),
                ]
            )
        ],
    )


async def _royalties(admin: Principal, reader: Any) -> None:
    """Royalties (docs/ROYALTIES.md): an author and her translator sharing a book
    70/30, each on 70 % of sales and 50 % of the subscription pool, a reserve on the
    author's sales, and one sale of the book paid (run the month once it has ended:
    `python server.py calculate-royalties --period YYYY-MM`)."""
    from datetime import date

    from domain.invoicing.service import create_invoice
    from domain.payments.operations import record_payment
    from domain.royalties.contracts import create_contract
    from domain.royalties.payees import create_payee
    from domain.royalties.works import create_work

    author = await create_payee(
        admin,
        {"name": "Leïla Benali", "kind": "author", "language": "fr", "payout_currency": "EUR"},
    )
    translator = await create_payee(
        admin,
        {"name": "Omar Haddad", "kind": "translator", "language": "ar", "payout_currency": "DZD"},
    )
    book = await create_work(
        admin,
        {
            "code": "sable-et-sel",
            "title": "Sable et sel",
            "shares": [
                {"payeeId": author.public_id, "share": "70", "role": "author"},
                {"payeeId": translator.public_id, "share": "30", "role": "translator"},
            ],
            "effective_from": date(2026, 1, 1),
        },
    )
    rules = {"SALE": {"rate": "70"}, "SUBSCRIPTION_READ": {"rate": "50"}}
    for payee, reserve in ((author, {"percent": "20", "releaseAfter": 2}), (translator, None)):
        await create_contract(
            admin,
            {
                "work_id": book.public_id,
                "payee_id": payee.public_id,
                "rules": rules,
                "reserve": reserve,
            },
        )
    sale = await create_invoice(
        admin,
        {
            "customer_id": reader.public_id,
            "currency": "EUR",
            "finalize": True,
            "items": [
                {
                    "description": "Sable et sel (e-book)",
                    "unit_price": {"currency": "EUR", "amount": "14.90"},
                    "work_id": book.public_id,
                }
            ],
        },
    )
    await record_payment(
        admin, {"invoice_id": sale.public_id, "method": "bank_transfer", "reference": "DEMO-1"}
    )


def _prices(dzd: int, eur: int, usd: int) -> list[dict[str, object]]:
    return [
        {"currency": "DZD", "amount_minor": dzd},
        {"currency": "EUR", "amount_minor": eur},
        {"currency": "USD", "amount_minor": usd},
    ]


async def seed_demo() -> SeedResult | None:
    """Create the demo tenant once; None when it already exists."""
    if await Tenant.exists(name=DEMO_TENANT):
        return None
    async with in_transaction():
        tenant = await create_tenant(
            name=DEMO_TENANT,
            legal_name="Tally Demo SARL",
            country="DZ",
            default_currency="DZD",
            default_locale="fr",
            timezone="Africa/Algiers",
            vat_id=None,
            address={"line1": "12 rue Didouche Mourad", "city": "Alger", "postal_code": "16000"},
            test_mode=True,
        )
        admin = Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id=0)
        plans = {}
        for code, name, credits, daily, dzd, eur, usd in TIERS:
            plans[code] = await create_plan(
                admin,
                {
                    "code": code,
                    "name": name,
                    "interval": "month",
                    "monthly_credits": credits,
                    "daily_credit_limit": daily,
                    "features": FEATURES[code],
                    "prices": _prices(dzd, eur, usd),
                    # The portal offers every tier but the negotiated one.
                    "self_service": code != "enterprise",
                },
            )
        plans["premium"] = await create_plan(
            admin,
            {
                "code": "premium-monthly",
                "name": "Premium",
                "description": "Everything in Pro, billed monthly, with a 14-day trial.",
                "interval": "month",
                "trial_days": 14,
                "monthly_credits": 5_000,
                "daily_credit_limit": 1_000,
                "features": FEATURES["business"],
                "tax_behavior": "inclusive",
                "prices": [{"currency": "EUR", "amount": "29.99"}],
            },
        )
        await create_plan(
            admin,
            {
                "code": "pro-yearly",
                "name": "Pro (yearly)",
                "self_service": True,
                "interval": "year",
                "monthly_credits": 2_000,
                "daily_credit_limit": 500,
                "features": FEATURES["pro"],
                "prices": _prices(5_000_000, 35_000, 39_000),
            },
        )
        await create_add_on(
            admin,
            {
                "code": "extra-seat",
                "name": "Extra seat",
                "kind": "recurring",
                "prices": _prices(50_000, 500, 500),
            },
        )
        await create_add_on(
            admin,
            {
                "code": "onboarding",
                "name": "Onboarding session",
                "kind": "one_off",
                "prices": _prices(2_000_000, 15_000, 16_000),
            },
        )
        await create_coupon(
            admin,
            {
                "code": "WELCOME20",
                "name": "Welcome -20%",
                "percent_off": "20",
                "duration": "repeating",
                "duration_periods": 3,
            },
        )
        await create_coupon(
            admin,
            {
                "code": "LAUNCH10",
                "name": "Launch: 10 off",
                "amounts_off": [
                    {"currency": "EUR", "amount": "10"},
                    {"currency": "USD", "amount": "10"},
                ],
                "duration": "once",
                "max_redemptions": 100,
                "redeem_by": clock.now() + timedelta(days=365),
                "plan_ids": [plans["pro"].public_id, plans["business"].public_id],
            },
        )
        customers = {}
        for ext, name, email, country, city, locale, currency, tz in CUSTOMERS:
            customers[ext] = await create_customer(
                admin,
                {
                    "external_id": ext,
                    "name": name,
                    "email": email,
                    "address": {"city": city, "country": country},
                    "locale": locale,
                    "currency": currency,
                    "timezone": tz,
                    "metadata": {"source": "demo"},
                },
            )
        await _billing(admin, plans, customers)
        await _royalties(admin, customers["user-1002"])
        admin_key = await issue_key(tenant_id=tenant.id, role=Role.ADMIN, name="demo admin")
        service_key = await issue_key(tenant_id=tenant.id, role=Role.SERVICE, name="demo service")
        customer_key = await issue_key(
            tenant_id=tenant.id,
            role=Role.CUSTOMER,
            name="demo customer portal",
            customer_id=customers["user-1001"].id,
        )
    return SeedResult(
        tenant=tenant,
        admin_key=admin_key.secret,
        service_key=service_key.secret,
        customer_key=customer_key.secret,
        created=True,
    )
