"""The daily credit limit against time-zone switching (issue 13, item 3): moving a
customer between Pacific/Kiritimati (UTC+14) and Pacific/Pago_Pago (UTC-11) used
to open a fresh "today" at each switch (40 credits in a minute against 10), and,
found in review, a move east still did (10 in Pago Pago, then 10 more a minute
later in Kiritimati, where it is already tomorrow). A move now carries today's
usage over: it counts until the new zone's next local midnight, either way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from db.credit_models import CreditEntry, CreditWallet
from domain import clock
from domain.credits import consume, rules
from domain.customers.service import update_customer
from domain.tenancy.access import Role
from tests.api.helpers import data, gql
from tests.domain.credits.conftest import make_credits
from tests.factories import admin_of, make_customer, make_key, make_plan, make_subscription

CONSUME = """mutation($c: ID!, $r: String!) {
  consumeCredits(customerId: $c, module: "rag", action: "q", requestId: $r) {
    __typename ... on CreditConsumption { consumed reason remainingToday }
    ... on Error { code field } } }"""
MOVE = """mutation($id: ID!, $tz: String!) {
  updateCustomer(id: $id, input: {timezone: $tz}) {
    __typename ... on CustomerSuccess { customer { timezone } }
    ... on Error { code message } } }"""
ALLOW = """mutation($allow: Boolean!) {
  updateCreditSettings(input: {customersMayChangeTimezone: $allow}) {
    __typename ... on CreditSettingsSuccess { settings { customersMayChangeTimezone } } } }"""
WALLET = (
    """query($c: ID) { creditWallet(customerId: $c) { usedToday remainingToday nextResetAt } }"""
)
ZONES = ("Pacific/Pago_Pago", "Pacific/Kiritimati")


async def _setup(tenant: Any, timezone: str = "Pacific/Kiritimati") -> tuple[str, str, Any]:
    admin = await make_key(tenant=tenant)
    service = await make_key(tenant=tenant, role=Role.SERVICE)
    plan = await make_plan(
        tenant=tenant, features=["rag"], monthly_credits=1_000, daily_credit_limit=10
    )
    customer = await make_customer(tenant=tenant, timezone=timezone)
    await make_subscription(tenant=tenant, customer=customer, plan=plan)
    return admin, service, customer


async def _spend(client: httpx.AsyncClient, service: str, customer: str, tag: str) -> int:
    consumed = 0
    for i in range(12):
        out = data(await gql(client, service, CONSUME, {"c": customer, "r": f"{tag}-{i}"}))
        result = out["consumeCredits"]
        consumed += result["consumed"]
        if not result["consumed"]:
            assert result["reason"] == "DAILY_LIMIT_REACHED"
            break
    return consumed


async def test_switching_time_zones_never_opens_a_fresh_day(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    admin, service, customer = await _setup(tenant)
    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=customer)
    # By default the customer's own token may not move its day.
    refused = data(await gql(client, token, MOVE, {"id": customer.public_id, "tz": ZONES[0]}))
    assert refused["updateCustomer"]["__typename"] == "PermissionDeniedError"
    allowed = data(await gql(client, admin, ALLOW, {"allow": True}))["updateCreditSettings"]
    assert allowed["settings"]["customersMayChangeTimezone"] is True

    total = await _spend(client, service, customer.public_id, "start")
    assert total == 10
    for n in range(6):  # the attack: switch, spend, switch back, spend ...
        moved = data(
            await gql(client, token, MOVE, {"id": customer.public_id, "tz": ZONES[n % 2]})
        )["updateCustomer"]
        assert moved["customer"]["timezone"] == ZONES[n % 2]
        total += await _spend(client, service, customer.public_id, f"switch{n}")
    assert total == 10
    wallet = data(await gql(client, token, WALLET, {}))["creditWallet"]
    assert (wallet["usedToday"], wallet["remainingToday"]) == (10, 0)
    row = await CreditWallet.get(customer_id=customer.id)
    spent = await CreditEntry.filter(wallet_id=row.id, kind="consumption").count()
    assert spent == 10


@pytest.mark.parametrize(("start", "move"), [ZONES, tuple(reversed(ZONES))])
async def test_a_move_carries_todays_usage_to_the_new_zones_midnight(
    client: httpx.AsyncClient, tenant: Any, start: str, move: str
) -> None:
    admin, service, customer = await _setup(tenant, start)
    assert await _spend(client, service, customer.public_id, "before") == 10
    moved = data(await gql(client, admin, MOVE, {"id": customer.public_id, "tz": move}))
    assert moved["updateCustomer"]["customer"]["timezone"] == move
    # A minute later in the new zone (east: already tomorrow there): nothing more.
    assert await _spend(client, service, customer.public_id, "after") == 0
    wallet = data(await gql(client, admin, WALLET, {"c": customer.public_id}))["creditWallet"]
    assert (wallet["usedToday"], wallet["remainingToday"]) == (10, 0)
    # The counter starts again at the new zone's next midnight (west: not the one
    # after it, as when the date only never went back).
    reset = datetime.fromisoformat(wallet["nextResetAt"])
    assert reset == rules.next_local_midnight(clock.now(), move)
    row = await CreditWallet.get(customer_id=customer.id)
    assert row.usage_day == rules.local_day(clock.now(), move)


async def test_the_day_counts_under_the_latest_date() -> None:
    west, east = "Pacific/Pago_Pago", "Pacific/Kiritimati"
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert (rules.local_day(now, west), rules.local_day(now, east)) == ("2026-03-01", "2026-03-02")
    # Usage on the east's 2 March still counts in the west's 1 March ...
    assert rules.counts_on("2026-03-02", "2026-03-01")
    assert rules.counting_day("2026-03-02", "2026-03-01") == "2026-03-02"
    # ... until the west reaches 3 March: that midnight is when the counter resets.
    assert rules.next_reset(now, west, "2026-03-02") == datetime(
        2026, 3, 3, tzinfo=rules.zone(west)
    )
    assert rules.next_reset(now, west, "") == datetime(2026, 3, 2, tzinfo=rules.zone(west))
    assert not rules.counts_on("", "2026-03-01")
    assert not rules.counts_on("2026-02-28", "2026-03-01")


async def test_racing_consumers_around_a_switch_stay_within_the_limit(db: str) -> None:
    c = await make_credits(daily=20, timezone="Pacific/Kiritimati")
    await c.grant(10_000)
    first = await asyncio.gather(
        *(consume.consume_credits(c.service, c.req(f"a{i}")) for i in range(15))
    )
    assert sum(r.consumed for r in first) == 15
    await update_customer(admin_of(c.tenant), c.customer.public_id, {"timezone": ZONES[0]})
    second = await asyncio.gather(
        *(consume.consume_credits(c.service, c.req(f"b{i}")) for i in range(30))
    )
    assert sum(r.consumed for r in second) == 5
    assert {r.refusal.value for r in second if not r.consumed} == {"DAILY_LIMIT_REACHED"}
    wallet = await CreditWallet.get(customer_id=c.customer.id)
    assert wallet.used_today == 20
    # What was used before the move was carried over to the new zone's date.
    assert wallet.usage_day == rules.local_day(clock.now(), ZONES[0])
    entries = await CreditEntry.filter(wallet_id=wallet.id, kind="consumption")
    after = [e for e in entries if e.request_id.startswith("b")]
    assert {e.local_day for e in after} == {wallet.usage_day}
