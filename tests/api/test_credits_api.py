"""Credits through real GraphQL documents: check, consume (and its replay), batch,
reservations, wallet, ledger, usage, settings, and what a customer token may do."""

from __future__ import annotations

from typing import Any

import httpx

from db.credit_models import CreditWallet
from domain.tenancy.access import Role
from tests.api.helpers import data, gql
from tests.factories import make_customer, make_key, make_plan, make_subscription

CHECK = """query($c: ID!, $m: String!, $q: BigInt!) {
  checkCredits(customerId: $c, module: $m, quantity: $q) {
    canProceed reason cost balanceAfter remainingToday dailyLimit } }"""
CONSUME = """mutation($customerId: ID!, $module: String!, $action: String!,
    $requestId: String!, $quantity: BigInt, $metadata: JSON) {
  consumeCredits(customerId: $customerId, module: $module, action: $action,
      requestId: $requestId, quantity: $quantity, metadata: $metadata) {
    __typename
    ... on CreditConsumption { consumed reason cost balance remainingToday entryId replayed }
    ... on Error { code field } } }"""
BATCH = """mutation($items: [ConsumeCreditsInput!]!) {
  consumeCreditsBatch(items: $items) {
    __typename
    ... on ConsumeCreditsBatchSuccess { results { __typename
      ... on CreditConsumption { consumed reason balance }
      ... on Error { code } } }
    ... on Error { code field } } }"""
GRANT = """mutation($c: ID!, $n: BigInt!) {
  grantCredits(customerId: $c, amount: $n, reason: "welcome", kind: PROMOTION) {
    __typename ... on CreditWalletSuccess { wallet { balance lots { kind remaining } } }
    ... on Error { code } } }"""
WALLET = """query($c: ID) { creditWallet(customerId: $c) {
  customerId balance reserved available usedToday dailyLimit remainingToday nextResetAt
  blocked paymentOverdue modules lots { kind remaining expiresAt } } }"""
LEDGER = """query($c: ID, $kind: CreditEntryKind, $after: String) {
  creditLedger(customerId: $c, kind: $kind, first: 2, after: $after) {
    nodes { id kind amount balanceAfter module action quantity requestId metadata }
    pageInfo { hasNextPage endCursor } } }"""
RESERVE = """mutation($input: ConsumeCreditsInput!) {
  reserveCredits(input: $input, expiresInSeconds: 60) {
    __typename ... on ReserveCreditsSuccess { reserved cost reservation { id status amount } }
    ... on Error { code } } }"""
COMMIT = """mutation($id: ID!, $q: BigInt) { commitReservation(id: $id, quantity: $q) {
  __typename ... on ReservationSuccess { reservation { status committedAmount } }
  ... on Error { code } } }"""
SETTINGS = """mutation { updateCreditSettings(input: {
  costs: [{module: "rag", credits: 2}, {module: "legal", credits: 5}], lowThreshold: 10}) {
  __typename ... on CreditSettingsSuccess { settings { costs { module credits } lowThreshold } }
  ... on Error { code field } } }"""


async def _setup(tenant: Any, **plan: Any) -> tuple[str, str, Any]:
    admin = await make_key(tenant=tenant)
    service = await make_key(tenant=tenant, role=Role.SERVICE)
    made = await make_plan(tenant=tenant, features=["rag", "legal"], **plan)
    customer = await make_customer(tenant=tenant, external_id="user-42")
    await make_subscription(tenant=tenant, customer=customer, plan=made)
    return admin, service, customer


def _input(customer: str, request_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "customerId": customer,
        "module": "legal",
        "action": "contract-review",
        "quantity": 1,
        "requestId": request_id,
        **extra,
    }


async def test_consume_and_replay_over_graphql(client: httpx.AsyncClient, tenant: Any) -> None:
    admin, service, customer = await _setup(tenant, daily_credit_limit=100)
    granted = data(await gql(client, admin, GRANT, {"c": customer.public_id, "n": 10}))
    assert granted["grantCredits"]["wallet"]["lots"] == [{"kind": "promotion", "remaining": 10}]
    check = data(await gql(client, service, CHECK, {"c": "user-42", "m": "legal", "q": 2}))
    assert check["checkCredits"] == {
        "canProceed": True,
        "reason": None,
        "cost": 6,
        "balanceAfter": 4,
        "remainingToday": 94,
        "dailyLimit": 100,
    }
    meta = {"document": "nda.pdf"}
    first = data(await gql(client, service, CONSUME, _input("user-42", "q-1", metadata=meta)))
    first = first["consumeCredits"]
    assert (first["__typename"], first["consumed"], first["balance"], first["replayed"]) == (
        "CreditConsumption",
        True,
        7,
        False,
    )
    replay = data(await gql(client, service, CONSUME, _input("user-42", "q-1", metadata=meta)))
    assert replay["consumeCredits"]["replayed"] is True
    assert replay["consumeCredits"]["entryId"] == first["entryId"]
    other = data(await gql(client, service, CONSUME, _input("user-42", "q-1", quantity=2)))
    assert other["consumeCredits"] == {
        "__typename": "IdempotencyError",
        "code": "IDEMPOTENCY_KEY_REUSED",
        "field": "requestId",
    }
    too_much = data(await gql(client, service, CONSUME, _input("user-42", "q-2", quantity=3)))
    assert too_much["consumeCredits"]["reason"] == "INSUFFICIENT_CREDITS"
    for bad, code in (
        (_input("user-42", "q-3", module="nope"), "UNKNOWN_MODULE"),
        (_input("user-42", "q-4", quantity=0), "VALIDATION_ERROR"),
        (_input("user-42", "q-5", quantity=-2), "VALIDATION_ERROR"),
        (_input("nobody", "q-6"), "NOT_FOUND"),
        (_input("user-42", ""), "VALIDATION_ERROR"),
    ):
        result = data(await gql(client, service, CONSUME, bad))["consumeCredits"]
        assert result["code"] == code, bad
    assert (await CreditWallet.get(customer_id=customer.id)).balance == 7
    ledger = data(await gql(client, admin, LEDGER, {"c": customer.public_id}))["creditLedger"]
    assert [n["kind"] for n in ledger["nodes"]] == ["PROMOTION", "CONSUMPTION"]
    assert ledger["nodes"][1]["metadata"] == meta and ledger["pageInfo"]["hasNextPage"] is False


async def test_batch_over_graphql(client: httpx.AsyncClient, tenant: Any) -> None:
    admin, service, customer = await _setup(tenant)
    await gql(client, admin, GRANT, {"c": customer.public_id, "n": 7})
    items = [_input(customer.public_id, f"b-{i}") for i in range(3)] + [
        _input(customer.public_id, "b-x", module="nope")
    ]
    result = data(await gql(client, service, BATCH, {"items": items}))["consumeCreditsBatch"]
    assert [r.get("consumed", r.get("code")) for r in result["results"]] == [
        True,
        True,
        False,
        "UNKNOWN_MODULE",
    ]
    too_many = [_input(customer.public_id, f"t-{i}") for i in range(1001)]
    over = data(await gql(client, service, BATCH, {"items": too_many}))["consumeCreditsBatch"]
    assert (over["__typename"], over["field"]) == ("ValidationError", "items")


async def test_reservations_wallet_and_customer_tokens(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    admin, service, customer = await _setup(tenant, daily_credit_limit=50)
    await gql(client, admin, GRANT, {"c": customer.public_id, "n": 30})
    held = data(await gql(client, service, RESERVE, {"input": _input(customer.public_id, "job")}))
    reservation = held["reserveCredits"]["reservation"]
    assert (held["reserveCredits"]["reserved"], reservation["amount"]) == (True, 3)
    done = data(await gql(client, service, COMMIT, {"id": reservation["id"], "q": 1}))
    assert done["commitReservation"]["reservation"] == {"status": "COMMITTED", "committedAmount": 3}
    twice = data(await gql(client, service, COMMIT, {"id": reservation["id"]}))
    assert twice["commitReservation"]["code"] == "RESERVATION_NOT_HELD"

    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=customer)
    wallet = data(await gql(client, token, WALLET, {}))["creditWallet"]
    assert (
        wallet["customerId"],
        wallet["balance"],
        wallet["usedToday"],
        wallet["remainingToday"],
    ) == (
        customer.public_id,
        27,
        3,
        47,
    )
    assert wallet["modules"] == ["legal", "rag"]
    own_ledger = data(await gql(client, token, LEDGER, {}))["creditLedger"]["nodes"]
    assert [n["amount"] for n in own_ledger] == [30, -3]
    denied = data(await gql(client, token, CONSUME, _input(customer.public_id, "mine")))
    assert denied["consumeCredits"]["__typename"] == "PermissionDeniedError"
    other = await make_customer(tenant=tenant, name="Someone else")
    body = await gql(client, token, WALLET, {"c": other.public_id})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await CreditWallet.get(customer_id=customer.id)).balance == 27


async def test_settings_and_plan_overrides(client: httpx.AsyncClient, tenant: Any) -> None:
    admin, service, customer = await _setup(tenant)
    result = data(await gql(client, admin, SETTINGS))["updateCreditSettings"]
    assert result["settings"]["costs"] == [
        {"module": "legal", "credits": 5},
        {"module": "rag", "credits": 2},
    ]
    check = data(await gql(client, service, CHECK, {"c": customer.public_id, "m": "legal", "q": 1}))
    assert check["checkCredits"]["cost"] == 5
    denied = data(await gql(client, service, SETTINGS))["updateCreditSettings"]
    assert denied["__typename"] == "PermissionDeniedError"
    plan = await make_plan(
        tenant=tenant, features=["legal"], credit_costs=[{"module": "legal", "credits": 1}]
    )
    vip = await make_customer(tenant=tenant, name="VIP")
    await make_subscription(tenant=tenant, customer=vip, plan=plan)
    check = data(await gql(client, service, CHECK, {"c": vip.public_id, "m": "legal", "q": 1}))
    assert (check["checkCredits"]["cost"], check["checkCredits"]["reason"]) == (
        1,
        "INSUFFICIENT_CREDITS",
    )


def test_the_fast_batch_item_conversion_matches_strawberrys() -> None:
    from strawberry.types.arguments import convert_argument

    from api.schema import build_schema
    from schema import credits as ct

    schema = build_schema()
    registry, config = schema.schema_converter.scalar_registry, schema.config
    definition = ct.ConsumeCreditsInput.__strawberry_definition__
    values = [
        {
            "customerId": "cus_x",
            "module": "rag",
            "action": "a",
            "quantity": 3,
            "requestId": "r",
            "metadata": {"k": [1, "v"]},
        },
        {
            "customerId": "ext-1",
            "module": "legal",
            "action": "b",
            "quantity": 1,
            "requestId": "s",
            "metadata": None,
        },
    ]
    fast = [convert_argument(v, ct.ConsumeCreditsInput, registry, config) for v in values]
    hook, definition.from_input = definition.from_input, None
    try:
        generic = [convert_argument(v, ct.ConsumeCreditsInput, registry, config) for v in values]
    finally:
        definition.from_input = hook
    assert fast == generic


BLOCK = """mutation($c: ID!) { blockCustomer(customerId: $c, reason: "chargeback") {
  __typename ... on CreditWalletSuccess { wallet { blocked blockedReason } } } }"""
UNBLOCK = """mutation($c: ID!) { unblockCustomer(customerId: $c) {
  ... on CreditWalletSuccess { wallet { blocked blockedReason } } } }"""


async def test_block_and_unblock_over_graphql(client: httpx.AsyncClient, tenant: Any) -> None:
    admin, service, customer = await _setup(tenant)
    await gql(client, admin, GRANT, {"c": customer.public_id, "n": 10})
    blocked = data(await gql(client, admin, BLOCK, {"c": customer.public_id}))
    assert blocked["blockCustomer"]["wallet"] == {"blocked": True, "blockedReason": "chargeback"}
    assert blocked["blockCustomer"]["__typename"] == "CreditWalletSuccess"
    refused = data(await gql(client, service, CONSUME, _input(customer.public_id, "x")))
    assert refused["consumeCredits"]["reason"] == "CUSTOMER_BLOCKED"
    denied = data(await gql(client, service, BLOCK, {"c": customer.public_id}))
    assert denied["blockCustomer"] == {"__typename": "PermissionDeniedError"}
    open_again = data(await gql(client, admin, UNBLOCK, {"c": customer.public_id}))
    assert open_again["unblockCustomer"]["wallet"] == {"blocked": False, "blockedReason": None}
    assert data(await gql(client, service, CONSUME, _input(customer.public_id, "x")))[
        "consumeCredits"
    ]["consumed"]
