"""Royalty statements through real GraphQL documents (issue 16): a run, its
statements (lines, conversions, CSV), approval, a manual and a Stripe Connect payout,
the ledger and earnings, and a payee token reading its own royalties only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from db.royalty_models import Payee
from domain.payments.providers import stripe_provider
from domain.payments.settings import update_payment_settings
from domain.tenancy.access import Role
from tests.api.helpers import data, gql
from tests.api.royalties_world import (
    ADVANCE,
    APPROVE,
    CONTRACTS,
    CREATE_PAYEE,
    EARNINGS,
    LEDGER,
    PAY_STRIPE,
    PAYOUT,
    RUN,
    SET_RATES,
    STATEMENT,
    STATEMENTS,
    WORK,
    WORKS,
    make_contract,
    make_payee,
    make_work,
    payee_input,
    sell,
)
from tests.factories import admin_of, key_row, make_key, make_tenant
from tests.fake_stripe import FakeStripe


# -- the run, statements, payouts ---------------------------------------------------------
async def test_a_run_its_statements_approval_payout_ledger_and_earnings(
    client: httpx.AsyncClient, db: str
) -> None:
    # 70 % of a 200.00 EUR sale is 140.00 EUR, above the 100 EUR threshold: payable.
    # 70 % of a 20.00 EUR sale is 14.00 EUR = 9,183.398 XOF → 9,183 XOF, below the
    # threshold (100 EUR = 65,596 XOF): carried.
    tenant = await make_tenant()
    key = await make_key(tenant=tenant)
    ada = await make_payee(client, key, "Ada")
    amina = await make_payee(client, key, "Amina", payoutCurrency="XOF")
    book = await make_work(client, key, "book", [(ada, "100")])
    tale = await make_work(client, key, "tale", [(amina, "100")])
    for work, payee in ((book, ada), (tale, amina)):
        made = await make_contract(client, key, work, payee, [{"type": "SALE", "rate": "70"}])
        assert made["__typename"] == "ContractSuccess"
    rate = [{"fromCurrency": "EUR", "toCurrency": "XOF", "rate": "655.957"}]
    await gql(client, key, SET_RATES, {"p": "2026-09", "r": rate})
    await sell(tenant, book, 20000, datetime(2026, 9, 10, tzinfo=UTC))
    await sell(tenant, tale, 2000, datetime(2026, 9, 12, tzinfo=UTC))

    ran = data(await gql(client, key, RUN, {"p": "2026-09"}))["runRoyalties"]
    assert ran == {
        "__typename": "RunRoyaltiesSuccess",
        "period": "2026-09",
        "status": "completed",
        "payees": 2,
        "statementsCreated": 2,
        "alreadyComplete": False,
    }
    again = data(await gql(client, key, RUN, {"p": "2026-09"}))["runRoyalties"]
    # A re-run does nothing.
    assert (again["statementsCreated"], again["alreadyComplete"]) == (0, True)
    early = data(await gql(client, key, RUN, {"p": "2999-01"}))["runRoyalties"]
    assert early["__typename"] == "ValidationError"

    listed = data(await gql(client, key, STATEMENTS, {"p": ada}))["royaltyStatements"]
    assert listed["totalCount"] == 1
    statement = listed["nodes"][0]
    assert (statement["status"], statement["currency"], statement["payee"]) == (
        "DRAFT",
        "EUR",
        {"name": "Ada"},
    )
    assert statement["payable"] == {"amountMinor": 14000, "currency": "EUR"}
    assert statement["lines"] == [
        {
            "work": {"code": "book", "title": "Book"},
            "type": "SALE",
            "tier": 0,
            "rate": "70",
            "units": 1,
            "basis": {"amountMinor": 20000, "currency": "EUR"},
            "earned": {"amountMinor": 14000, "currency": "EUR"},
            "amount": {"amountMinor": 14000, "currency": "EUR"},
        }
    ]
    carried = data(await gql(client, key, STATEMENTS, {"p": amina}))["royaltyStatements"]
    xof = carried["nodes"][0]
    assert (xof["status"], xof["payable"]["amountMinor"], xof["closing"]["amountMinor"]) == (
        "CARRIED",
        0,
        9183,
    )
    assert xof["conversions"] == [
        {
            "from": {"amountMinor": 1400, "currency": "EUR"},
            "rate": "655.957",
            "to": {"amountMinor": 9183, "currency": "XOF"},
        }
    ]
    drafts = data(await gql(client, key, STATEMENTS, {"s": "DRAFT"}))["royaltyStatements"]
    assert [n["payee"]["name"] for n in drafts["nodes"]] == ["Ada"]

    one = data(await gql(client, key, STATEMENT, {"id": statement["id"]}))["royaltyStatement"]
    assert one["payee"] == {"name": "Ada"} and "book" in one["csv"]
    approved = data(await gql(client, key, APPROVE, {"id": statement["id"]}))
    assert approved["approveRoyaltyStatement"]["statement"]["status"] == "APPROVED"
    twice = data(await gql(client, key, APPROVE, {"id": statement["id"]}))
    assert twice["approveRoyaltyStatement"]["__typename"] == "ConflictError"
    paid = data(await gql(client, key, PAYOUT, {"id": statement["id"], "r": "SEPA-1"}))
    payout = paid["recordRoyaltyPayout"]
    assert payout["__typename"] == "RoyaltyPayoutSuccess"
    assert {k: v for k, v in payout["payout"].items() if k != "id"} == {
        "method": "MANUAL",
        "status": "PAID",
        "reference": "SEPA-1",
        "paidOn": "2026-10-05",
        "amount": {"amountMinor": 14000, "currency": "EUR"},
        "statement": {"status": "PAID", "payee": {"name": "Ada"}},
    }

    entries = data(await gql(client, key, LEDGER, {"p": ada}))["royaltyLedger"]["nodes"]
    assert [(e["kind"], e["amount"]["amountMinor"]) for e in entries][-1] == ("payout", -14000)
    assert entries[-1]["balanceAfter"] == {"amountMinor": 0}
    assert {e["statement"]["period"] for e in entries} == {"2026-09"}
    earned = data(await gql(client, key, EARNINGS, {"w": book}))["royaltyEarnings"]
    assert earned == [
        {
            "period": "2026-09",
            "type": "SALE",
            "workId": book,
            "payeeId": ada,
            "currency": "EUR",
            "units": 1,
            "basis": {"amountMinor": 20000},
            "earned": {"amountMinor": 14000},
            "returned": {"amountMinor": 0},
        }
    ]


@pytest.fixture(scope="module")
def fake_stripe() -> Iterator[FakeStripe]:
    server = FakeStripe().start()
    before = stripe_provider._client
    stripe_provider.configure_client(stripe_provider.build_client(server.url))
    yield server
    stripe_provider.configure_client(before)
    server.stop()


async def test_a_statement_paid_by_a_stripe_connect_transfer(
    client: httpx.AsyncClient, db: str, fake_stripe: FakeStripe
) -> None:
    tenant = await make_tenant()
    key = await make_key(tenant=tenant)
    await update_payment_settings(
        admin_of(tenant), {"provider": "stripe", "stripe_secret_key": "sk_test_royalties_api"}
    )
    ada = await make_payee(
        client, key, "Ada", payoutMethod="STRIPE_CONNECT", payoutAccount="acct_1AdaLovelace"
    )
    bea = await make_payee(client, key, "Bea")
    book = await make_work(client, key, "book", [(ada, "50"), (bea, "50")])
    for payee in (ada, bea):
        await make_contract(client, key, book, payee, [{"type": "SALE", "rate": "100"}])
    await sell(tenant, book, 40000, datetime(2026, 9, 10, tzinfo=UTC))
    data(await gql(client, key, RUN, {"p": "2026-09"}))
    ids = {
        n["payee"]["name"]: n["id"]
        for n in data(await gql(client, key, STATEMENTS, {}))["royaltyStatements"]["nodes"]
    }
    for name in ids:
        data(await gql(client, key, APPROVE, {"id": ids[name]}))
    paid = data(await gql(client, key, PAY_STRIPE, {"id": ids["Ada"]}))
    payout = paid["payRoyaltyStatementWithStripe"]
    assert payout["__typename"] == "RoyaltyPayoutSuccess"
    assert payout["payout"]["providerRef"].startswith("tr_")
    assert {k: v for k, v in payout["payout"].items() if k != "providerRef"} == {
        "method": "STRIPE_CONNECT",
        "status": "PAID",
        "failure": None,
        "amount": {"amountMinor": 20000, "currency": "EUR"},
        "statement": {"status": "PAID"},
    }
    manual = data(await gql(client, key, PAY_STRIPE, {"id": ids["Bea"]}))
    refused = manual["payRoyaltyStatementWithStripe"]
    assert (refused["__typename"], refused["code"]) == (
        "ValidationError",
        "PAYOUT_METHOD_UNAVAILABLE",
    )


# -- payee tokens ---------------------------------------------------------------------------
async def test_a_payee_token_reads_its_own_royalties_only(
    client: httpx.AsyncClient, db: str
) -> None:
    tenant = await make_tenant()
    key = await make_key(tenant=tenant)
    ada = await make_payee(client, key, "Ada")
    bea = await make_payee(client, key, "Bea")
    mine = await make_work(client, key, "mine", [(ada, "50"), (bea, "50")])
    theirs = await make_work(client, key, "theirs", [(bea, "100")])
    for work in ("mine", "theirs"):
        await make_contract(client, key, work, bea, [{"type": "SALE", "rate": "70"}])
    await make_contract(client, key, mine, ada, [{"type": "SALE", "rate": "70"}])
    await sell(tenant, theirs, 20000, datetime(2026, 9, 10, tzinfo=UTC))
    await sell(tenant, mine, 20000, datetime(2026, 9, 11, tzinfo=UTC))
    assert (
        data(await gql(client, key, RUN, {"p": "2026-09"}))["runRoyalties"]["statementsCreated"]
        == 2
    )
    statements = data(await gql(client, key, STATEMENTS, {}))["royaltyStatements"]["nodes"]
    by_name = {n["payee"]["name"]: n["id"] for n in statements}

    ada_row = await Payee.get(public_id=ada)
    token = await make_key(tenant=tenant, role=Role.PAYEE, payee_id=ada_row.id)
    assert (await key_row(token)).payee_id == ada_row.id  # type: ignore[attr-defined]
    own = data(await gql(client, token, STATEMENT, {"id": by_name["Ada"]}))["royaltyStatement"]
    assert own["payee"] == {"name": "Ada"}
    other = data(await gql(client, token, STATEMENT, {"id": by_name["Bea"]}))
    assert other == {"royaltyStatement": None}
    listed = data(await gql(client, token, STATEMENTS, {}))["royaltyStatements"]["nodes"]
    assert [n["payee"]["name"] for n in listed] == ["Ada"]
    for document, variables in (
        (STATEMENTS, {"p": bea}),
        (LEDGER, {"p": bea}),
        (EARNINGS, {"p": bea}),
    ):
        body = await gql(client, token, document, variables)
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", document
    works = data(await gql(client, token, WORKS))["works"]
    # Its own works only; a co-contributor shows its share but not who it is.
    assert works == {
        "totalCount": 1,
        "nodes": [
            {
                "code": "mine",
                "contributors": [
                    {"share": "50", "payee": {"name": "Ada"}},
                    {"share": "50", "payee": None},
                ],
            }
        ],
    }
    assert data(await gql(client, token, WORK, {"id": "theirs"})) == {"work": None}
    payees = data(await gql(client, token, "{ payees { nodes { name } } }"))["payees"]
    assert payees == {"nodes": [{"name": "Ada"}]}
    contracts = data(await gql(client, token, CONTRACTS, {"w": None}))["contracts"]
    assert [c["payee"]["name"] for c in contracts["nodes"]] == ["Ada"]
    for document, variables, name in (
        (CREATE_PAYEE, {"i": payee_input("X")}, "createPayee"),
        (APPROVE, {"id": by_name["Ada"]}, "approveRoyaltyStatement"),
        (RUN, {"p": "2026-10"}, "runRoyalties"),
        (
            SET_RATES,
            {"p": "2026-10", "r": [{"fromCurrency": "EUR", "toCurrency": "USD", "rate": "1.1"}]},
            "setRoyaltyExchangeRates",
        ),
        (
            ADVANCE,
            {"i": {"payeeId": ada, "amount": {"currency": "EUR", "amountMinor": 1}}},
            "recordRoyaltyAdvance",
        ),
    ):
        result = data(await gql(client, token, document, variables))[name]
        assert result["__typename"] == "PermissionDeniedError", name
