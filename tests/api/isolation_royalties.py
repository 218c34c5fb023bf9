"""The royalties cases of the tenant-isolation tests (merged into isolation_cases.py):
the victim's payee, work, contract and statement, a document per royalties query and
mutation that names one of them, and what must still be as it was afterwards."""

from __future__ import annotations

from datetime import date
from typing import Any

from db.royalty_models import (
    Contract,
    Payee,
    RoyaltyAdjustment,
    RoyaltyAdvance,
    RoyaltyPayout,
    RoyaltyRead,
    RoyaltyStatement,
    Work,
    WorkShare,
)
from domain import clock
from domain.ids import new_id
from domain.royalties.advances import record_advance
from domain.royalties.contracts import create_contract
from domain.royalties.payees import create_payee
from domain.royalties.rates import set_exchange_rates
from domain.royalties.works import create_work
from domain.tenancy.access import Principal

OBJECTS = ("payee", "work", "contract", "statement")


async def make_victim_royalties(admin: Principal) -> dict[str, str]:
    payee = await create_payee(
        admin, {"name": "Victim Author", "kind": "author", "payout_currency": "EUR"}
    )
    work = await create_work(
        admin,
        {
            "code": "victim-work",
            "title": "Victim's book",
            "shares": [{"payeeId": payee.public_id, "share": "100"}],
            "effective_from": date(2020, 1, 1),
        },
    )
    contract = await create_contract(
        admin,
        {"work_id": work.public_id, "payee_id": payee.public_id, "rules": {"SALE": {"rate": "70"}}},
    )
    await record_advance(admin, payee.public_id, 5000, "EUR", date(2020, 1, 1), "victim's")
    await set_exchange_rates(
        admin, "2020-01", [{"fromCurrency": "EUR", "toCurrency": "XOF", "rate": "655.957"}]
    )
    now = clock.now()
    statement = await RoyaltyStatement.create(
        public_id=new_id("royalty_statement"),
        tenant_id=admin.tenant_id,
        payee_id=payee.id,
        period="2020-01",
        currency="EUR",
        status="draft",
        opening_minor=0,
        earnings_minor=20000,
        returns_minor=0,
        reserve_withheld_minor=0,
        reserve_released_minor=0,
        recouped_minor=5000,
        advance_remaining_minor=0,
        payable_minor=15000,
        closing_minor=0,
        document={"lines": [], "conversions": []},
        created_at=now,
        updated_at=now,
    )
    return {
        "payee": payee.public_id,
        "work": work.public_id,
        "contract": contract.public_id,
        "statement": statement.public_id,
    }


async def assert_victim_royalties_unchanged(victim: dict[str, Any], attacker_id: int) -> None:
    payee = await Payee.get(public_id=victim["payee"])
    assert (payee.name, payee.agent_id, payee.archived_at) == ("Victim Author", None, None)
    assert (payee.advance_minor, payee.balance_minor) == (5000, 0)
    assert await RoyaltyAdvance.filter(payee_id=payee.id).count() == 1
    assert not await RoyaltyAdjustment.exists(payee_id=payee.id)
    work = await Work.get(public_id=victim["work"])
    assert (work.title, work.archived_at) == ("Victim's book", None)
    assert await WorkShare.filter(work_id=work.id).count() == 1
    contract = await Contract.get(public_id=victim["contract"])
    assert (contract.rules["SALE"]["rate"], contract.archived_at) == ("70", None)
    statement = await RoyaltyStatement.get(public_id=victim["statement"])
    assert (statement.status, statement.approved_at) == ("draft", None)
    assert not await RoyaltyPayout.exists(statement_id=statement.id)
    for model in (Payee, Work, Contract, RoyaltyAdvance, RoyaltyAdjustment):
        assert await model.filter(tenant_id=attacker_id).count() == 0, model
    assert await RoyaltyRead.filter(tenant_id=attacker_id).count() == 0


QUERIES = {
    "payee": ("query($id: ID!) { payee(id: $id) { id } }", "payee"),
    "work": ("query($id: ID!) { work(id: $id) { id } }", "work"),
    "royaltyStatement": ("query($id: ID!) { royaltyStatement(id: $id) { id } }", "statement"),
}
COMPUTED = {
    "contracts": ("query($id: ID!) { contracts(workId: $id) { nodes { id } } }", "work"),
    "works": ("query($id: ID!) { works(payeeId: $id) { nodes { id } } }", "payee"),
    "royaltyStatements": (
        "query($id: ID!) { royaltyStatements(payeeId: $id) { nodes { id } } }",
        "payee",
    ),
    "royaltyLedger": ("query($id: ID!) { royaltyLedger(payeeId: $id) { nodes { id } } }", "payee"),
    "royaltyEarnings": (
        'query($id: ID!) { royaltyEarnings(workId: $id, from: "2020-01", to: "2020-12") { period } }',
        "work",
    ),
}
BY_CODE = ['{ work(id: "victim-work") { id } }']
LISTS = {
    "payees": "{ payees(includeArchived: true) { nodes { id } totalCount } }",
    "works": "{ works(includeArchived: true) { nodes { id } totalCount } }",
    "contracts": "{ contracts(includeArchived: true) { nodes { id } totalCount } }",
    "royaltyExchangeRates": '{ royaltyExchangeRates(period: "2020-01") { fromCurrency rate } }',
    "royaltyStatements": "{ royaltyStatements { nodes { id } totalCount } }",
    "royaltyLedger": "{ royaltyLedger { nodes { id } totalCount } }",
    "royaltyEarnings": '{ royaltyEarnings(from: "2020-01", to: "2020-12") { workId payeeId } }',
}
OWN = {"royaltySettings"}
MUTATIONS = {
    "createPayee": (
        'mutation($id: ID!) { createPayee(input: {name: "x", payoutCurrency: "EUR", agentId: $id}) { __typename } }',
        "payee",
    ),
    "updatePayee": (
        'mutation($id: ID!) { updatePayee(id: $id, input: {name: "X"}) { __typename } }',
        "payee",
    ),
    "archivePayee": ("mutation($id: ID!) { archivePayee(id: $id) { __typename } }", "payee"),
    "createWork": (
        'mutation($id: ID!) { createWork(input: {code: "steal", title: "x", shares: [{payeeId: $id, share: "100"}]}) { __typename } }',
        "payee",
    ),
    "updateWork": (
        'mutation($id: ID!) { updateWork(id: $id, input: {title: "X"}) { __typename } }',
        "work",
    ),
    "archiveWork": ("mutation($id: ID!) { archiveWork(id: $id) { __typename } }", "work"),
    "setWorkShares": (
        'mutation($id: ID!) { setWorkShares(workId: $id, shares: [{payeeId: "pye_0000000000000000", share: "100"}], effectiveFrom: "2030-01-01") { __typename } }',
        "work",
    ),
    "createContract": (
        'mutation($id: ID!) { createContract(input: {workId: $id, payeeId: "pye_0000000000000000", rules: [{type: SALE, rate: "99"}]}) { __typename } }',
        "work",
    ),
    "updateContract": (
        'mutation($id: ID!) { updateContract(id: $id, input: {rules: [{type: SALE, rate: "99"}]}) { __typename } }',
        "contract",
    ),
    "archiveContract": (
        "mutation($id: ID!) { archiveContract(id: $id) { __typename } }",
        "contract",
    ),
    "recordRoyaltyAdvance": (
        'mutation($id: ID!) { recordRoyaltyAdvance(input: {payeeId: $id, amount: {currency: "EUR", amountMinor: 1}}) { __typename } }',
        "payee",
    ),
    "recordRoyaltyAdjustment": (
        'mutation($id: ID!) { recordRoyaltyAdjustment(input: {payeeId: $id, amount: {currency: "EUR", amountMinor: 1}, reason: "x", period: "2030-01"}) { __typename } }',
        "payee",
    ),
    "approveRoyaltyStatement": (
        "mutation($id: ID!) { approveRoyaltyStatement(id: $id) { __typename } }",
        "statement",
    ),
    "recordRoyaltyPayout": (
        'mutation($id: ID!) { recordRoyaltyPayout(statementId: $id, reference: "x") { __typename } }',
        "statement",
    ),
    "payRoyaltyStatementWithStripe": (
        "mutation($id: ID!) { payRoyaltyStatementWithStripe(statementId: $id) { __typename } }",
        "statement",
    ),
}
# Reads answer per read: another tenant's work (or customer) is unknown.
PER_READ = {
    "recordReads": (
        'mutation($id: ID!) { recordReads(reads: [{requestId: "steal-5", workId: $id}]) { ... on RecordReadsSuccess { results { status error { code } } } } }',
        "work",
        "UNKNOWN_WORK",
    ),
}
CREATES_OWN = {"setRoyaltyExchangeRates", "updateRoyaltySettings", "runRoyalties"}
