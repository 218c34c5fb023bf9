"""What a customer token may now do for itself (the portal's actions, issue 18): read
the preview of a plan change and make it, cancel at the period's end, reactivate, buy
credits. Only on its own subscription and wallet, only plan, quantity and timing:
prices, coupons, proration and immediate cancellation stay the tenant's. And the
console's billing status: the tenant's runs, never a customer's to read."""

from __future__ import annotations

from typing import Any

import httpx

from domain.billing.run import run_billing
from domain.credits.admin import update_credit_settings
from domain.tenancy.access import Role
from tests.api.helpers import data, gql
from tests.factories import admin_of, make_customer, make_key, make_plan, make_subscription

RESULT = "__typename ... on Error { code message }"
PREVIEW = "query($id: ID!, $plan: ID!) { subscriptionChangePreview(id: $id, input: {planId: $plan}) { total { amountMinor } } }"
CHANGE = (
    "mutation($id: ID!, $input: ChangeSubscriptionInput!) { changeSubscription(id: $id, input: $input) { "
    + RESULT
    + " ... on SubscriptionSuccess { subscription { plan { id } } } } }"
)
CANCEL = (
    "mutation($id: ID!, $end: Boolean!) { cancelSubscription(id: $id, atPeriodEnd: $end) { "
    + RESULT
    + " ... on SubscriptionSuccess { subscription { cancelAtPeriodEnd status } } } }"
)
REACTIVATE = (
    "mutation($id: ID!) { reactivateSubscription(id: $id) { "
    + RESULT
    + " ... on SubscriptionSuccess { subscription { cancelAtPeriodEnd } } } }"
)
UPCOMING = "query($id: ID!) { upcomingInvoice(subscriptionId: $id) { lines { kind } } }"
SCHEDULE = (
    "mutation($id: ID!, $plan: ID!) { changeSubscription(id: $id, input: {planId: $plan, effective: PERIOD_END}) { "
    + RESULT
    + " } }"
)
WITHDRAW = "mutation($id: ID!) { cancelScheduledChange(id: $id) { " + RESULT + " } }"
PURCHASE = "mutation($c: ID!) { purchaseCredits(customerId: $c, credits: 100) { " + RESULT + " } }"


async def _world(tenant: Any) -> dict[str, Any]:
    basic = await make_plan(tenant=tenant, code="basic", prices=[("EUR", 1_000)], self_service=True)
    pro = await make_plan(tenant=tenant, code="pro", prices=[("EUR", 3_000)], self_service=True)
    me = await make_customer(tenant=tenant, name="Me")
    other = await make_customer(tenant=tenant, name="Other")
    return {
        "basic": basic,
        "pro": pro,
        "me": me,
        "other": other,
        "mine": await make_subscription(tenant=tenant, customer=me, plan=basic),
        "theirs": await make_subscription(tenant=tenant, customer=other, plan=basic),
        "token": await make_key(tenant=tenant, role=Role.CUSTOMER, customer=me),
    }


async def test_a_customer_previews_and_changes_its_own_plan_only(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    w = await _world(tenant)
    key, mine, theirs, pro = (
        w["token"],
        w["mine"].public_id,
        w["theirs"].public_id,
        w["pro"].public_id,
    )
    preview = data(await gql(client, key, PREVIEW, {"id": mine, "plan": pro}))
    assert preview["subscriptionChangePreview"]["total"]["amountMinor"] > 0
    other = await gql(client, key, PREVIEW, {"id": theirs, "plan": pro})
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    # Only the plan, quantity and timing: no free upgrade by turning proration off.
    free = data(
        await gql(
            client, key, CHANGE, {"id": mine, "input": {"planId": pro, "prorationBehavior": "NONE"}}
        )
    )
    assert free["changeSubscription"]["code"] == "FORBIDDEN"
    theft = data(await gql(client, key, CHANGE, {"id": theirs, "input": {"planId": pro}}))
    assert theft["changeSubscription"]["code"] == "NOT_FOUND"
    done = data(await gql(client, key, CHANGE, {"id": mine, "input": {"planId": pro}}))
    assert done["changeSubscription"]["subscription"]["plan"]["id"] == pro
    # The upgrade's prorations: a charge for Pro and a credit for Basic's unused time,
    # on the next invoice (the tenant bills same-interval changes that way).
    upcoming = data(await gql(client, key, UPCOMING, {"id": mine}))["upcomingInvoice"]
    kinds = {line["kind"] for line in upcoming["lines"]}
    assert {"PRORATION_CHARGE", "PRORATION_CREDIT"} <= kinds, upcoming

    # Only plans the tenant offers for self-service.
    secret = await make_plan(tenant=tenant, code="vip", prices=[("EUR", 100)])
    vip = data(await gql(client, key, CHANGE, {"id": mine, "input": {"planId": secret.public_id}}))
    assert vip["changeSubscription"]["code"] == "FORBIDDEN"
    assert "not offered for self-service" in vip["changeSubscription"]["message"]


async def test_a_customer_cancels_at_period_end_and_reactivates(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    w = await _world(tenant)
    key, mine = w["token"], w["mine"].public_id
    now = data(await gql(client, key, CANCEL, {"id": mine, "end": False}))["cancelSubscription"]
    assert now["code"] == "FORBIDDEN"
    later = data(await gql(client, key, CANCEL, {"id": mine, "end": True}))["cancelSubscription"]
    assert later["subscription"] == {"cancelAtPeriodEnd": True, "status": "ACTIVE"}
    back = data(await gql(client, key, REACTIVATE, {"id": mine}))["reactivateSubscription"]
    assert back["subscription"] == {"cancelAtPeriodEnd": False}
    theirs = data(await gql(client, key, CANCEL, {"id": w["theirs"].public_id, "end": True}))
    assert theirs["cancelSubscription"]["code"] == "NOT_FOUND"


async def test_a_customer_buys_credits_for_itself_only(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    w = await _world(tenant)
    await update_credit_settings(
        admin_of(tenant), {"unit_prices": [{"currency": "EUR", "amount_minor": 10}]}
    )
    own = data(await gql(client, w["token"], PURCHASE, {"c": w["me"].public_id}))
    assert own["purchaseCredits"]["__typename"] == "CreditPurchaseSuccess", own
    other = data(await gql(client, w["token"], PURCHASE, {"c": w["other"].public_id}))
    assert other["purchaseCredits"]["code"] == "NOT_FOUND"


async def test_billing_status_shows_the_tenants_runs_to_its_staff_only(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    from datetime import timedelta

    from domain import clock

    w = await _world(tenant)
    admin_key = await make_key(tenant=tenant)
    query = "{ billingStatus { dueNow nextDueAt runs { trigger subscriptions invoices failures totals { currency amountMinor } } } }"
    before = data(await gql(client, admin_key, query))["billingStatus"]
    assert before == {"dueNow": 0, "nextDueAt": before["nextDueAt"], "runs": []}
    assert before["nextDueAt"] is not None
    # Two subscriptions made 32 days ago: their first month has ended, and the run
    # (at now: it bills only what is due, whoever's it is) renews them.
    with clock.frozen_at(clock.now() - timedelta(days=32)):
        late = await make_customer(tenant=tenant, name="Late")
        for plan in (w["basic"], w["pro"]):
            await make_subscription(tenant=tenant, customer=late, plan=plan)
    assert data(await gql(client, admin_key, query))["billingStatus"]["dueNow"] == 2
    await run_billing(trigger="cli", collect=False)
    after = data(await gql(client, admin_key, query))["billingStatus"]
    assert after["dueNow"] == 0
    (run,) = after["runs"]
    assert run["trigger"] == "cli" and run["subscriptions"] == 2 and run["failures"] == 0
    # 10.00 + 30.00, with 20 % French VAT.
    assert run["invoices"] == 2 and run["totals"] == [{"currency": "EUR", "amountMinor": 4_800}]
    refused = await gql(client, w["token"], query)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_customer_does_not_undo_the_tenants_decisions(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    """The tenant set the cancellation, or scheduled the change: the customer may not
    take it back (nor replace it); its own, it may."""
    w = await _world(tenant)
    admin_key = await make_key(tenant=tenant)
    key, mine, basic, pro = (
        w["token"],
        w["mine"].public_id,
        w["basic"].public_id,
        w["pro"].public_id,
    )

    set_by_tenant = data(await gql(client, admin_key, CANCEL, {"id": mine, "end": True}))
    assert set_by_tenant["cancelSubscription"]["subscription"]["cancelAtPeriodEnd"] is True
    undone = data(await gql(client, key, REACTIVATE, {"id": mine}))["reactivateSubscription"]
    assert undone["code"] == "FORBIDDEN" and "tenant" in undone["message"]
    back = data(await gql(client, admin_key, REACTIVATE, {"id": mine}))["reactivateSubscription"]
    assert back["subscription"] == {"cancelAtPeriodEnd": False}

    scheduled = data(await gql(client, admin_key, SCHEDULE, {"id": mine, "plan": pro}))
    assert scheduled["changeSubscription"]["__typename"] == "SubscriptionSuccess"
    for document, variables in (
        (WITHDRAW, {"id": mine}),
        (CHANGE, {"id": mine, "input": {"planId": basic, "quantity": 2}}),
        (CANCEL, {"id": mine, "end": True}),
    ):
        body = data(await gql(client, key, document, variables))
        (result,) = body.values()
        assert result["code"] == "FORBIDDEN", (document, result)
    withdrawn = data(await gql(client, admin_key, WITHDRAW, {"id": mine}))
    assert withdrawn["cancelScheduledChange"]["__typename"] == "SubscriptionSuccess"

    # The customer's own scheduled change, it withdraws.
    own = data(await gql(client, key, SCHEDULE, {"id": mine, "plan": pro}))["changeSubscription"]
    assert own["__typename"] == "SubscriptionSuccess", own
    taken_back = data(await gql(client, key, WITHDRAW, {"id": mine}))["cancelScheduledChange"]
    assert taken_back["__typename"] == "SubscriptionSuccess", taken_back
