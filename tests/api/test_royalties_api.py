"""Royalties through real GraphQL documents (issue 16): payees, works and their shares
over time, contracts, rates, settings, advances and adjustments with their typed
refusals, reads, and API keys bound to a payee."""

from __future__ import annotations

import httpx

from db.querylog import count_statements
from domain.tenancy.access import Role
from tests.api.helpers import data, gql
from tests.api.royalties_world import (
    ADJUST,
    ADVANCE,
    CONTRACTS,
    CREATE_KEY,
    CREATE_PAYEE,
    CREATE_WORK,
    RATES,
    READS,
    SET_RATES,
    SET_SHARES,
    SETTINGS,
    UPDATE_CONTRACT,
    UPDATE_PAYEE,
    VIEWER,
    WORK,
    WORKS,
    make_contract,
    make_payee,
    make_work,
    payee_input,
)
from tests.factories import make_customer, make_key, make_tenant


# -- payees, works, contracts ---------------------------------------------------------------
async def test_payees_with_their_payout_details_and_typed_refusals(
    client: httpx.AsyncClient, db: str
) -> None:
    key = await make_key(tenant=await make_tenant())
    agent = await make_payee(client, key, "Agency", kind="AGENT")
    made = data(
        await gql(
            client,
            key,
            CREATE_PAYEE,
            {
                "i": payee_input(
                    "Amina",
                    language="fr",
                    payoutCurrency="XOF",
                    payoutMethod="MOBILE_MONEY",
                    payoutAccount="+221 77 123 45 67",
                    agentId=agent,
                    thresholdMinor=50000,
                )
            },
        )
    )["createPayee"]
    assert made["__typename"] == "PayeeSuccess"
    payee = made["payee"]
    assert payee["id"].startswith("pye_")
    assert {k: v for k, v in payee.items() if k != "id"} == {
        "name": "Amina",
        "kind": "AUTHOR",
        "language": "fr",
        "payoutCurrency": "XOF",
        "payoutMethod": "MOBILE_MONEY",
        "payoutAccount": "+221771234567",
        "taxId": None,
        "threshold": {"amountMinor": 50000, "currency": "XOF"},
        "balance": {"amountMinor": 0},
        "advanceRemaining": {"amountMinor": 0, "currency": "XOF"},
        "agent": {"id": agent},
    }
    refused = data(
        await gql(client, key, CREATE_PAYEE, {"i": payee_input("S", payoutMethod="STRIPE_CONNECT")})
    )["createPayee"]
    assert refused["__typename"] == "ValidationError"
    assert (refused["code"], refused["field"]) == ("INVALID_PAYOUT_ACCOUNT", "payoutAccount")
    cycle = data(await gql(client, key, UPDATE_PAYEE, {"id": agent, "i": {"agentId": payee["id"]}}))
    assert (cycle["updatePayee"]["__typename"], cycle["updatePayee"]["code"]) == (
        "ValidationError",
        "AGENT_CYCLE",
    )
    missing = data(await gql(client, key, UPDATE_PAYEE, {"id": "pye_0000000000000000", "i": {}}))
    assert missing["updatePayee"]["__typename"] == "NotFoundError"
    listed = data(await gql(client, key, "{ payees { totalCount nodes { name } } }"))
    assert listed["payees"] == {"totalCount": 2, "nodes": [{"name": "Agency"}, {"name": "Amina"}]}


async def test_works_with_shares_over_time_and_contracts(
    client: httpx.AsyncClient, db: str
) -> None:
    key = await make_key(tenant=await make_tenant())
    ada, bea, cy = [await make_payee(client, key, n) for n in ("Ada", "Bea", "Cy")]
    work = await make_work(client, key, "dune", [(ada, "100")])
    # Three contributors 33.33 / 33.33 / 33.34 from 2026-03-01: exactly 100.
    three = [
        {"payeeId": ada, "share": "33.33"},
        {"payeeId": bea, "share": "33.33", "role": "translator"},
        {"payeeId": cy, "share": "33.34", "role": "illustrator"},
    ]
    done = data(await gql(client, key, SET_SHARES, {"w": work, "s": three, "d": "2026-03-01"}))
    assert done["setWorkShares"] == {"__typename": "WorkSuccess", "work": {"code": "dune"}}
    read = data(await gql(client, key, WORK, {"id": "dune"}))["work"]
    assert read["contributors"] == [
        {"share": "33.33", "role": "author", "payee": {"name": "Ada"}},
        {"share": "33.33", "role": "translator", "payee": {"name": "Bea"}},
        {"share": "33.34", "role": "illustrator", "payee": {"name": "Cy"}},
    ]
    assert [(h["effectiveFrom"], len(h["contributors"])) for h in read["shareHistory"]] == [
        ("2020-01-01", 1),
        ("2026-03-01", 3),
    ]
    # 33.33 x 3 is not 100: refused with its code, nothing changed.
    wrong = [{"payeeId": p, "share": "33.33"} for p in (ada, bea, cy)]
    refused = data(await gql(client, key, SET_SHARES, {"w": work, "s": wrong, "d": "2026-04-01"}))
    assert refused["setWorkShares"]["__typename"] == "ValidationError"
    assert (refused["setWorkShares"]["code"], refused["setWorkShares"]["field"]) == (
        "SHARES_NOT_100",
        "shares",
    )
    unknown = data(
        await gql(
            client,
            key,
            SET_SHARES,
            {"w": "wrk_0000000000000000", "s": three, "d": "2026-04-01"},
        )
    )
    assert unknown["setWorkShares"]["__typename"] == "NotFoundError"
    duplicate = data(await gql(client, key, CREATE_WORK, {"i": {"code": "dune", "title": "x"}}))
    assert (duplicate["createWork"]["__typename"], duplicate["createWork"]["code"]) == (
        "ConflictError",
        "DUPLICATE_CODE",
    )

    too_high = await make_contract(client, key, work, ada, [{"type": "SALE", "rate": "150"}])
    assert too_high["__typename"] == "ValidationError"
    assert (too_high["code"], too_high["field"]) == ("INVALID_RATE", "rules.SALE.rate")
    rules = [
        {
            "type": "SALE",
            "escalators": [{"upTo": 5000, "rate": "10"}, {"upTo": None, "rate": "12.5"}],
        },
        {"type": "SUBSCRIPTION_READ", "rate": "50", "basis": "LIST_PRICE"},
        {"type": "LICENSE", "flatFee": [{"currency": "EUR", "amount": "500.00"}]},
    ]
    made = await make_contract(client, key, "dune", ada, rules)
    assert made["__typename"] == "ContractSuccess"
    contract = made["contract"]
    assert contract["id"].startswith("ctr_")
    assert (contract["work"], contract["payee"], contract["reserve"]) == (
        {"code": "dune"},
        {"name": "Ada"},
        None,
    )
    assert contract["rules"] == [
        {
            "type": "SALE",
            "basis": "NET_RECEIPTS",
            "rate": None,
            "escalators": [{"upTo": 5000, "rate": "10"}, {"upTo": None, "rate": "12.5"}],
            "flatFee": [],
        },
        {
            "type": "SUBSCRIPTION_READ",
            "basis": "LIST_PRICE",
            "rate": "50",
            "escalators": [],
            "flatFee": [],
        },
        {
            "type": "LICENSE",
            "basis": None,
            "rate": None,
            "escalators": [],
            "flatFee": [{"amountMinor": 50000, "currency": "EUR"}],
        },
    ]
    again = await make_contract(client, key, work, ada, [{"type": "SALE", "rate": "70"}])
    assert (again["__typename"], again["code"]) == ("ConflictError", "DUPLICATE_CONTRACT")
    changed = data(
        await gql(
            client,
            key,
            UPDATE_CONTRACT,
            {
                "id": contract["id"],
                "i": {
                    "rules": [{"type": "SALE", "rate": "70"}],
                    "reserve": {"percent": "20", "releaseAfter": 2},
                },
            },
        )
    )["updateContract"]
    assert changed["contract"] == {
        "rules": [{"type": "SALE", "rate": "70"}],
        "reserve": {"percent": "20"},
    }
    await make_contract(client, key, work, bea, [{"type": "SALE", "rate": "70"}])
    listed = data(await gql(client, key, CONTRACTS, {"w": work}))["contracts"]
    assert [n["payee"]["name"] for n in listed["nodes"]] == ["Ada", "Bea"]
    assert listed["totalCount"] == 2


async def test_a_page_of_works_costs_the_same_statements_whatever_its_size(
    client: httpx.AsyncClient, db: str
) -> None:
    key = await make_key(tenant=await make_tenant())
    ada = await make_payee(client, key, "Ada")

    async def statements() -> int:
        with count_statements() as sent:
            data(await gql(client, key, WORKS))
        return len(sent)

    await make_work(client, key, "w0", [(ada, "100")])
    one = await statements()
    for n in range(1, 6):
        await make_work(client, key, f"w{n}", [(ada, "100")])
    assert await statements() == one


# -- rates, settings, advances, adjustments ---------------------------------------------------
async def test_rates_settings_advances_and_adjustments(client: httpx.AsyncClient, db: str) -> None:
    key = await make_key(tenant=await make_tenant())
    ada = await make_payee(client, key, "Ada")
    rates = [
        {"fromCurrency": "EUR", "toCurrency": "XOF", "rate": "655.957"},
        {"fromCurrency": "USD", "toCurrency": "EUR", "rate": "0.92"},
    ]
    made = data(await gql(client, key, SET_RATES, {"p": "2026-11", "r": rates}))
    assert made["setRoyaltyExchangeRates"] == {
        "__typename": "RoyaltyExchangeRatesSuccess",
        "period": "2026-11",
        "rates": rates,
    }
    assert data(await gql(client, key, RATES, {"p": "2026-11"}))["royaltyExchangeRates"] == rates
    zero = [{"fromCurrency": "EUR", "toCurrency": "DZD", "rate": "0"}]
    refused = data(await gql(client, key, SET_RATES, {"p": "2026-11", "r": zero}))
    assert (
        refused["setRoyaltyExchangeRates"]["code"],
        refused["setRoyaltyExchangeRates"]["field"],
    ) == ("INVALID_EXCHANGE_RATE", "rates[0].rate")

    settings = data(
        await gql(
            client,
            key,
            SETTINGS,
            {"i": {"poolRate": "50", "threshold": {"currency": "EUR", "amount": "50.00"}}},
        )
    )["updateRoyaltySettings"]
    assert settings["settings"] == {
        "poolRate": "50",
        "readEventCode": "read",
        "threshold": {"amountMinor": 5000, "currency": "EUR"},
    }
    bad = data(await gql(client, key, SETTINGS, {"i": {"poolRate": "150"}}))
    assert bad["updateRoyaltySettings"]["code"] == "INVALID_RATE"
    read = data(await gql(client, key, "{ royaltySettings { poolRate } }"))
    assert read["royaltySettings"] == {"poolRate": "50"}

    advance = {
        "payeeId": ada,
        "amount": {"currency": "EUR", "amountMinor": 100000},
        "paidOn": "2026-01-10",
        "reference": "wire 42",
        "idempotencyKey": "adv-1",
    }
    first = data(await gql(client, key, ADVANCE, {"i": advance}))["recordRoyaltyAdvance"]
    assert first["__typename"] == "RoyaltyAdvanceSuccess"
    assert first["advance"]["payee"] == {"advanceRemaining": {"amountMinor": 100000}}
    replay = data(await gql(client, key, ADVANCE, {"i": advance}))["recordRoyaltyAdvance"]
    assert replay["advance"]["id"] == first["advance"]["id"]
    assert replay["advance"]["payee"] == {"advanceRemaining": {"amountMinor": 100000}}
    other = {**advance, "amount": {"currency": "EUR", "amountMinor": 1}}
    reused = data(await gql(client, key, ADVANCE, {"i": other}))["recordRoyaltyAdvance"]
    assert reused["__typename"] == "IdempotencyError"
    usd = {**advance, "amount": {"currency": "USD", "amountMinor": 1}, "idempotencyKey": None}
    mismatch = data(await gql(client, key, ADVANCE, {"i": usd}))["recordRoyaltyAdvance"]
    assert (mismatch["__typename"], mismatch["code"]) == ("ValidationError", "CURRENCY_MISMATCH")

    await make_work(client, key, "dune", [(ada, "100")])
    adjustment = {
        "payeeId": ada,
        "amount": {"currency": "EUR", "amountMinor": -2500},
        "reason": "Misprinted copies",
        "period": "2026-11",
        "workId": "dune",
    }
    adjusted = data(await gql(client, key, ADJUST, {"i": adjustment}))["recordRoyaltyAdjustment"]
    assert adjusted["__typename"] == "RoyaltyAdjustmentSuccess"
    assert {k: v for k, v in adjusted["adjustment"].items() if k != "id"} == {
        "period": "2026-11",
        "reason": "Misprinted copies",
        "amount": {"amountMinor": -2500, "currency": "EUR"},
        "work": {"code": "dune"},
    }
    no_reason = data(await gql(client, key, ADJUST, {"i": {**adjustment, "reason": " "}}))
    assert no_reason["recordRoyaltyAdjustment"]["field"] == "reason"


# -- reads ------------------------------------------------------------------------------------
async def test_reads_are_recorded_once_each_and_refused_one_by_one(
    client: httpx.AsyncClient, db: str
) -> None:
    tenant = await make_tenant()
    key = await make_key(tenant=tenant)
    service = await make_key(tenant=tenant, role=Role.SERVICE)
    ada = await make_payee(client, key, "Ada")
    work = await make_work(client, key, "dune", [(ada, "100")])
    reader = await make_customer(tenant=tenant, name="Reader")
    other = await make_tenant()
    theirs = await make_work(
        client,
        await make_key(tenant=other),
        "theirs",
        [(await make_payee(client, await make_key(tenant=other), "Them"), "100")],
    )
    stranger = await make_customer(tenant=other, name="Stranger")
    reads = [
        {
            "requestId": "r-1",
            "workId": work,
            "count": 3,
            "customerId": reader.public_id,
            "occurredAt": "2026-11-03T10:00:00Z",
        },
        {"requestId": "r-2", "workId": theirs},
        {"requestId": "r-3", "workId": work, "customerId": stranger.public_id},
        {"requestId": "r-4", "workId": work, "count": 0},
    ]
    first = data(await gql(client, service, READS, {"r": reads}))["recordReads"]
    assert first == {
        "__typename": "RecordReadsSuccess",
        "accepted": 1,
        "duplicates": 0,
        "rejected": 3,
        "results": [
            {
                "index": 1,
                "requestId": "r-2",
                "status": "REJECTED",
                "error": {"code": "UNKNOWN_WORK", "field": "workId"},
            },
            {
                "index": 2,
                "requestId": "r-3",
                "status": "REJECTED",
                "error": {"code": "UNKNOWN_CUSTOMER", "field": "customerId"},
            },
            {
                "index": 3,
                "requestId": "r-4",
                "status": "REJECTED",
                "error": {"code": "INVALID_COUNT", "field": "count"},
            },
        ],
    }
    again = data(await gql(client, service, READS, {"r": reads[:1]}))["recordReads"]
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    changed = [{**reads[0], "count": 4}]
    clash = data(await gql(client, service, READS, {"r": changed}))["recordReads"]
    assert clash["results"][0]["error"]["code"] == "REQUEST_ID_CONFLICT"


# -- payee tokens ---------------------------------------------------------------------------
async def test_payee_keys_are_bound_to_a_payee_of_the_tenant(
    client: httpx.AsyncClient, db: str
) -> None:
    key = await make_key(tenant=await make_tenant())
    ada = await make_payee(client, key, "Ada")
    foreign = await make_payee(client, await make_key(tenant=await make_tenant()), "Other")
    cases = [
        ({"name": "k", "role": "PAYEE"}, "ValidationError", "payeeId"),
        ({"name": "k", "role": "SERVICE", "payeeId": ada}, "ValidationError", "payeeId"),
        ({"name": "k", "role": "PAYEE", "payeeId": foreign}, "NotFoundError", "payeeId"),
    ]
    for given, typename, field in cases:
        result = data(await gql(client, key, CREATE_KEY, {"i": given}))["createApiKey"]
        assert (result["__typename"], result["field"]) == (typename, field), given
    made = data(
        await gql(client, key, CREATE_KEY, {"i": {"name": "k", "role": "PAYEE", "payeeId": ada}})
    )
    issued = made["createApiKey"]
    assert issued["apiKey"] == {"role": "PAYEE", "payee": {"name": "Ada"}}
    viewer = data(await gql(client, issued["secret"], VIEWER))["viewer"]
    assert viewer == {"role": "PAYEE", "payee": {"id": ada, "name": "Ada"}, "customer": None}
