"""Royalties API tests' documents (module constants) and helpers: payees, works and
contracts made through GraphQL, and sales of works paid through the domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from domain import clock
from domain.invoicing.service import create_invoice
from domain.payments.operations import record_payment
from tests.api.helpers import data, gql
from tests.factories import admin_of, make_customer

ERR = "... on Error { code field message }"
CREATE_PAYEE = f"""mutation($i: CreatePayeeInput!) {{ createPayee(input: $i) {{ __typename
  ... on PayeeSuccess {{ payee {{ id name kind language payoutCurrency payoutMethod
      payoutAccount taxId threshold {{ amountMinor currency }} balance {{ amountMinor }}
      advanceRemaining {{ amountMinor currency }} agent {{ id }} }} }}
  {ERR} }} }}"""
UPDATE_PAYEE = f"""mutation($id: ID!, $i: UpdatePayeeInput!) {{ updatePayee(id: $id, input: $i) {{
  __typename ... on PayeeSuccess {{ payee {{ id name agent {{ name }} }} }} {ERR} }} }}"""
CREATE_WORK = f"""mutation($i: CreateWorkInput!) {{ createWork(input: $i) {{ __typename
  ... on WorkSuccess {{ work {{ id code title }} }} {ERR} }} }}"""
SET_SHARES = f"""mutation($w: ID!, $s: [WorkShareInput!]!, $d: Date!) {{
  setWorkShares(workId: $w, shares: $s, effectiveFrom: $d) {{ __typename
  ... on WorkSuccess {{ work {{ code }} }} {ERR} }} }}"""
WORK = """query($id: ID!) { work(id: $id) { id code title
  contributors { share role payee { name } }
  shareHistory { effectiveFrom contributors { share payee { name } } } } }"""
WORKS = (
    """{ works(first: 50) { totalCount nodes { code contributors { share payee { name } } } } }"""
)
CREATE_CONTRACT = f"""mutation($i: CreateContractInput!) {{ createContract(input: $i) {{ __typename
  ... on ContractSuccess {{ contract {{ id work {{ code }} payee {{ name }}
      rules {{ type basis rate escalators {{ upTo rate }} flatFee {{ amountMinor currency }} }}
      reserve {{ percent releaseAfter }} }} }}
  {ERR} }} }}"""
UPDATE_CONTRACT = f"""mutation($id: ID!, $i: UpdateContractInput!) {{
  updateContract(id: $id, input: $i) {{ __typename
  ... on ContractSuccess {{ contract {{ rules {{ type rate }} reserve {{ percent }} }} }} {ERR} }} }}"""
CONTRACTS = """query($w: ID) { contracts(workId: $w) { totalCount nodes { id payee { name } } } }"""
SET_RATES = f"""mutation($p: String!, $r: [RoyaltyExchangeRateInput!]!) {{
  setRoyaltyExchangeRates(period: $p, rates: $r) {{ __typename
  ... on RoyaltyExchangeRatesSuccess {{ period rates {{ fromCurrency toCurrency rate }} }}
  {ERR} }} }}"""
RATES = (
    """query($p: String!) { royaltyExchangeRates(period: $p) { fromCurrency toCurrency rate } }"""
)
SETTINGS = f"""mutation($i: UpdateRoyaltySettingsInput!) {{ updateRoyaltySettings(input: $i) {{
  __typename ... on RoyaltySettingsSuccess {{ settings {{ poolRate readEventCode
      threshold {{ amountMinor currency }} }} }} {ERR} }} }}"""
ADVANCE = f"""mutation($i: RecordRoyaltyAdvanceInput!) {{ recordRoyaltyAdvance(input: $i) {{
  __typename ... on RoyaltyAdvanceSuccess {{ advance {{ id paidOn reference
      amount {{ amountMinor currency }} payee {{ advanceRemaining {{ amountMinor }} }} }} }}
  {ERR} }} }}"""
ADJUST = f"""mutation($i: RecordRoyaltyAdjustmentInput!) {{ recordRoyaltyAdjustment(input: $i) {{
  __typename ... on RoyaltyAdjustmentSuccess {{ adjustment {{ id period reason
      amount {{ amountMinor currency }} work {{ code }} }} }} {ERR} }} }}"""
RUN = f"""mutation($p: String!) {{ runRoyalties(period: $p) {{ __typename
  ... on RunRoyaltiesSuccess {{ period status payees statementsCreated alreadyComplete }}
  {ERR} }} }}"""
STATEMENTS = """query($p: ID, $s: RoyaltyStatementStatus) {
  royaltyStatements(payeeId: $p, status: $s, first: 10) { totalCount nodes { id period status
    currency payee { name } opening { amountMinor } earnings { amountMinor }
    payable { amountMinor currency } closing { amountMinor }
    lines { work { code title } type tier rate units basis { amountMinor currency }
      earned { amountMinor currency } amount { amountMinor currency } }
    conversions { from { amountMinor currency } rate to { amountMinor currency } } } } }"""
STATEMENT = """query($id: ID!) { royaltyStatement(id: $id) { id status csv payee { name } } }"""
APPROVE = f"""mutation($id: ID!) {{ approveRoyaltyStatement(id: $id) {{ __typename
  ... on RoyaltyStatementSuccess {{ statement {{ status approvedAt }} }} {ERR} }} }}"""
PAYOUT = f"""mutation($id: ID!, $r: String!) {{
  recordRoyaltyPayout(statementId: $id, reference: $r, paidOn: "2026-10-05") {{ __typename
  ... on RoyaltyPayoutSuccess {{ payout {{ id method status reference paidOn
      amount {{ amountMinor currency }} statement {{ status payee {{ name }} }} }} }}
  {ERR} }} }}"""
LEDGER = """query($p: ID) { royaltyLedger(payeeId: $p) { nodes { id kind
  amount { amountMinor } advance { amountMinor } balanceAfter { amountMinor }
  statement { period } } } }"""
EARNINGS = """query($w: ID, $p: ID) { royaltyEarnings(workId: $w, payeeId: $p, from: "2026-08",
  to: "2026-10") { period type workId payeeId currency units basis { amountMinor }
  earned { amountMinor } returned { amountMinor } } }"""
PAY_STRIPE = f"""mutation($id: ID!) {{ payRoyaltyStatementWithStripe(statementId: $id) {{
  __typename ... on RoyaltyPayoutSuccess {{ payout {{ method status providerRef failure
      amount {{ amountMinor currency }} statement {{ status }} }} }} {ERR} }} }}"""
CREATE_KEY = f"""mutation($i: CreateApiKeyInput!) {{ createApiKey(input: $i) {{ __typename
  ... on CreateApiKeySuccess {{ secret apiKey {{ role payee {{ name }} }} }} {ERR} }} }}"""
VIEWER = """{ viewer { role payee { id name } customer { id } } }"""
READS = f"""mutation($r: [RoyaltyReadInput!]!) {{ recordReads(reads: $r) {{ __typename
  ... on RecordReadsSuccess {{ accepted duplicates rejected
      results {{ index requestId status error {{ code field }} }} }} {ERR} }} }}"""


def payee_input(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "payoutCurrency": "EUR", **extra}


async def make_payee(client: httpx.AsyncClient, key: str, name: str, **extra: Any) -> str:
    made = data(await gql(client, key, CREATE_PAYEE, {"i": payee_input(name, **extra)}))
    assert made["createPayee"]["__typename"] == "PayeeSuccess", made
    return str(made["createPayee"]["payee"]["id"])


async def make_work(
    client: httpx.AsyncClient, key: str, code: str, shares: list[tuple[str, str]], **extra: Any
) -> str:
    i = {
        "code": code,
        "title": code.title(),
        "shares": [{"payeeId": p, "share": s} for p, s in shares],
        "effectiveFrom": "2020-01-01",
        **extra,
    }
    made = data(await gql(client, key, CREATE_WORK, {"i": i}))["createWork"]
    assert made["__typename"] == "WorkSuccess", made
    return str(made["work"]["id"])


async def make_contract(
    client: httpx.AsyncClient, key: str, work: str, payee: str, rules: list[dict[str, Any]]
) -> dict[str, Any]:
    i = {"workId": work, "payeeId": payee, "rules": rules}
    return data(await gql(client, key, CREATE_CONTRACT, {"i": i}))["createContract"]  # type: ignore[no-any-return]


async def sell(tenant: Any, work: str, amount_minor: int, at: datetime) -> None:
    """A one-off invoice line for `work`, paid at `at` (through the domain)."""
    admin = admin_of(tenant)
    customer = await make_customer(tenant=tenant, name="Reader")
    with clock.frozen_at(at):
        invoice = await create_invoice(
            admin,
            {
                "customer_id": customer.public_id,
                "currency": "EUR",
                "finalize": True,
                "items": [
                    {
                        "description": "A book",
                        "unit_price": {"currency": "EUR", "amount_minor": amount_minor},
                        "work_id": work,
                    }
                ],
            },
        )
        await record_payment(
            admin, {"invoice_id": invoice.public_id, "method": "bank_transfer", "reference": "T"}
        )
