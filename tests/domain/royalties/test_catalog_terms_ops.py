"""The royalties catalog operations (issue 16), continued: contracts and their terms,
exchange rates and settings, advances and adjustments, with their typed refusals."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from db.models import Tenant
from db.royalty_models import (
    Payee,
    RoyaltyAdvance,
    RoyaltyLedgerEntry,
    RoyaltyRun,
)
from domain.errors import (
    ConflictError,
    CurrencyMismatchError,
    IdempotencyError,
    NotFoundError,
    ValidationError,
)
from domain.royalties import adjustments, advances, contracts, payees, rates, works
from domain.royalties.ledger import verify_ledger
from domain.royalties.settings import RoyaltySettings
from domain.tenancy.access import Principal
from tests.domain.royalties.test_catalog_ops import PAGE, payee, payee_token

D = Decimal


# -- contracts ------------------------------------------------------------------------------
async def test_a_contract_per_work_and_payee_with_its_terms_normalised(admin: Principal) -> None:
    a = await payee(admin)
    work = await works.create_work(admin, {"code": "w", "title": "W"})
    rules = {
        "SALE": {"escalators": [{"upTo": 5000, "rate": "10.0"}, {"upTo": None, "rate": "12.5"}]},
        "SUBSCRIPTION_READ": {"rate": "50"},
        "LICENSE": {"flatFee": {"EUR": 50000}},
    }
    made = await contracts.create_contract(
        admin,
        {
            "work_id": work.public_id,
            "payee_id": a.public_id,
            "rules": rules,
            "reserve": {"percent": "20", "releaseAfter": 2},
        },
    )
    assert made.public_id.startswith("ctr_")
    assert made.rules == {
        "SALE": {
            "basis": "NET_RECEIPTS",
            "escalators": [{"upTo": 5000, "rate": "10"}, {"upTo": None, "rate": "12.5"}],
        },
        "SUBSCRIPTION_READ": {"basis": "NET_RECEIPTS", "rate": "50"},
        "LICENSE": {"flatFee": {"EUR": 50000}},
    }
    assert made.reserve == {"percent": "20", "releaseAfter": 2}
    with pytest.raises(ConflictError) as clash:
        await contracts.create_contract(
            admin, {"work_id": "w", "payee_id": a.public_id, "rules": {"SALE": {"rate": "70"}}}
        )
    assert clash.value.code == "DUPLICATE_CONTRACT"
    changed = await contracts.update_contract(
        admin, made.public_id, {"rules": {"SALE": {"rate": "70"}}, "reserve": None}
    )
    assert (changed.rules, changed.reserve) == (
        {"SALE": {"basis": "NET_RECEIPTS", "rate": "70"}},
        None,
    )
    assert (await contracts.archive_contract(admin, made.public_id)).archived_at is not None
    assert (await contracts.list_contracts(admin, PAGE, work_id="w")).items == []


@pytest.mark.parametrize(
    ("rules", "reserve", "field", "code"),
    [
        ({"SALE": {"rate": "150"}}, None, "rules.SALE.rate", "INVALID_RATE"),
        ({"RENTAL": {"rate": "10"}}, None, "rules.RENTAL", "INVALID_CONTRACT"),
        ({}, None, "rules", "INVALID_CONTRACT"),
        (
            {"SALE": {"escalators": [{"upTo": 10, "rate": "5"}]}},
            None,
            "rules.SALE.escalators[0].upTo",
            "INVALID_ESCALATORS",
        ),
        (
            {"SALE": {"rate": "10"}},
            {"percent": "20", "releaseAfter": 0},
            "reserve.releaseAfter",
            "VALIDATION_ERROR",
        ),
    ],
)
async def test_bad_terms_are_refused_naming_their_field(
    admin: Principal, rules: Any, reserve: Any, field: str, code: str
) -> None:
    a = await payee(admin)
    work = await works.create_work(admin, {"code": "w", "title": "W"})
    with pytest.raises(ValidationError) as refused:
        await contracts.create_contract(
            admin,
            {
                "work_id": work.public_id,
                "payee_id": a.public_id,
                "rules": rules,
                "reserve": reserve,
            },
        )
    assert (refused.value.field, refused.value.code) == (field, code)


async def test_a_payee_token_reads_its_own_contracts_only(admin: Principal, tenant: Tenant) -> None:
    a, b = await payee(admin, "A"), await payee(admin, "B")
    work = await works.create_work(admin, {"code": "w", "title": "W"})
    terms = {"SALE": {"rate": "10"}}
    mine = await contracts.create_contract(
        admin, {"work_id": "w", "payee_id": a.public_id, "rules": terms}
    )
    theirs = await contracts.create_contract(
        admin, {"work_id": work.public_id, "payee_id": b.public_id, "rules": terms}
    )
    token = payee_token(tenant.id, a)
    assert [c.id for c in (await contracts.list_contracts(token, PAGE)).items] == [mine.id]
    assert await contracts.get_contract(token, theirs.public_id) is None
    with pytest.raises(NotFoundError):
        await contracts.list_contracts(token, PAGE, payee_id=b.public_id)


# -- rates and settings -----------------------------------------------------------------------
async def test_exchange_rates_are_upserted_per_period(admin: Principal, tenant: Tenant) -> None:
    first = await rates.set_exchange_rates(
        admin,
        "2026-11",
        [
            {"fromCurrency": "EUR", "toCurrency": "XOF", "rate": "655.957"},
            {"fromCurrency": "usd", "toCurrency": "EUR", "rate": "0.92"},
        ],
    )
    assert [(r.from_currency, r.to_currency, r.rate) for r in first] == [
        ("EUR", "XOF", "655.957"),
        ("USD", "EUR", "0.92"),
    ]
    again = await rates.set_exchange_rates(
        admin, "2026-11", [{"fromCurrency": "USD", "toCurrency": "EUR", "rate": "0.93"}]
    )
    assert [r.rate for r in again] == ["655.957", "0.93"]
    assert await rates.list_rates(admin, "2026-10") == []
    for bad, field, code in (
        (
            {"fromCurrency": "EUR", "toCurrency": "XOF", "rate": "0"},
            "rates[0].rate",
            "INVALID_EXCHANGE_RATE",
        ),
        (
            {"fromCurrency": "EUR", "toCurrency": "EUR", "rate": "1"},
            "rates[0].toCurrency",
            "VALIDATION_ERROR",
        ),
        (
            {"fromCurrency": "EUR", "toCurrency": "ZZZ", "rate": "1"},
            "rates[0].toCurrency",
            "UNKNOWN_CURRENCY",
        ),
        (
            {"fromCurrency": "EUR", "toCurrency": "XOF", "rate": "1e3"},
            "rates[0].rate",
            "INVALID_DECIMAL",
        ),
    ):
        with pytest.raises(ValidationError) as refused:
            await rates.set_exchange_rates(admin, "2026-11", [bad])
        assert (refused.value.field, refused.value.code) == (field, code)
    with pytest.raises(ValidationError) as period:
        await rates.set_exchange_rates(
            admin, "2026-13", [{"fromCurrency": "EUR", "toCurrency": "XOF", "rate": "1"}]
        )
    assert period.value.code == "INVALID_PERIOD"
    await RoyaltyRun.create(tenant_id=tenant.id, period="2026-11", started_at=datetime.now(UTC))
    with pytest.raises(ValidationError) as frozen:
        await rates.set_exchange_rates(
            admin, "2026-11", [{"fromCurrency": "EUR", "toCurrency": "XOF", "rate": "656"}]
        )
    assert frozen.value.code == "PERIOD_CLOSED"


async def test_settings_change_what_is_given_and_keep_the_rest(
    admin: Principal, tenant: Tenant
) -> None:
    assert await rates.royalty_settings(admin) == RoyaltySettings()
    changed = await rates.update_royalty_settings(admin, {"poolRate": "50"})
    assert (changed.pool_rate, changed.threshold_minor, changed.threshold_currency) == (
        D(50),
        10000,
        "EUR",
    )
    changed = await rates.update_royalty_settings(
        admin, {"thresholdMinor": 5000, "thresholdCurrency": "usd"}
    )
    assert (changed.pool_rate, changed.threshold_minor, changed.threshold_currency) == (
        D(50),
        5000,
        "USD",
    )
    stored = (await Tenant.get(id=tenant.id)).royalty_settings
    assert RoyaltySettings.of(stored) == changed
    with pytest.raises(ValidationError) as refused:
        await rates.update_royalty_settings(admin, {"poolRate": "150"})
    assert (refused.value.field, refused.value.code) == ("poolRate", "INVALID_RATE")


# -- advances and adjustments ---------------------------------------------------------------
async def test_an_advance_moves_the_unrecouped_advance_once_per_key(admin: Principal) -> None:
    p = await payee(admin)
    first = await advances.record_advance(
        admin, p.public_id, 100_000, "EUR", date(2026, 1, 10), "wire 42", "adv-1"
    )
    replay = await advances.record_advance(
        admin, p.public_id, 100_000, "EUR", date(2026, 1, 10), "wire 42", "adv-1"
    )
    assert replay.id == first.id and first.public_id.startswith("adv_")
    with pytest.raises(IdempotencyError):
        await advances.record_advance(
            admin, p.public_id, 90_000, "EUR", date(2026, 1, 10), "wire 42", "adv-1"
        )
    row = await Payee.get(id=p.id)
    assert (row.advance_minor, row.balance_minor) == (100_000, 0)
    entries = await RoyaltyLedgerEntry.filter(payee_id=p.id).values(
        "kind", "advance_minor", "amount_minor"
    )
    assert entries == [{"kind": "advance", "advance_minor": 100_000, "amount_minor": 0}]
    assert await RoyaltyAdvance.filter(payee_id=p.id).count() == 1
    assert await verify_ledger(p.tenant_id) == (1, [])


async def test_a_bad_advance_is_refused(admin: Principal) -> None:
    p = await payee(admin)
    with pytest.raises(CurrencyMismatchError) as mismatch:
        await advances.record_advance(admin, p.public_id, 100, "USD", date(2026, 1, 1), "")
    assert (mismatch.value.code, mismatch.value.field) == ("CURRENCY_MISMATCH", "amount.currency")
    for amount in (0, -5):
        with pytest.raises(ValidationError):
            await advances.record_advance(admin, p.public_id, amount, "EUR", date(2026, 1, 1), "")
    with pytest.raises(NotFoundError):
        await advances.record_advance(
            admin, "pye_0000000000000000", 100, "EUR", date(2026, 1, 1), ""
        )
    await payees.archive_payee(admin, p.public_id)
    with pytest.raises(ValidationError) as archived:
        await advances.record_advance(admin, p.public_id, 100, "EUR", date(2026, 1, 1), "")
    assert archived.value.code == "PAYEE_ARCHIVED"
    assert not await RoyaltyLedgerEntry.exists(payee_id=p.id)


async def test_adjustments_go_to_open_periods_with_a_reason(
    admin: Principal, tenant: Tenant
) -> None:
    p = await payee(admin)
    work = await works.create_work(admin, {"code": "w", "title": "W"})
    made = await adjustments.record_adjustment(
        admin, p.public_id, -2500, "EUR", "Misprinted copies", "2026-11", work.public_id
    )
    assert made.public_id.startswith("radj_")
    assert (made.amount_minor, made.period, made.work_id, made.reason) == (
        -2500,
        "2026-11",
        work.id,
        "Misprinted copies",
    )
    for amount, reason, period, field in (
        (0, "x", "2026-11", "amount.amountMinor"),
        (10, " ", "2026-11", "reason"),
        (10, "x" * 501, "2026-11", "reason"),
        (10, "x", "11/2026", "period"),
    ):
        with pytest.raises(ValidationError) as refused:
            await adjustments.record_adjustment(admin, p.public_id, amount, "EUR", reason, period)
        assert refused.value.field == field
    # A run of 2026-12 has started: it reads the period's adjustments before it
    # writes any statement, so a later one would be lost; it is refused instead.
    await RoyaltyRun.create(tenant_id=tenant.id, period="2026-12", started_at=datetime.now(UTC))
    with pytest.raises(ValidationError) as closed:
        await adjustments.record_adjustment(admin, p.public_id, 100, "EUR", "late", "2026-12")
    assert (closed.value.code, closed.value.field) == ("PERIOD_CLOSED", "period")
    keyed = await adjustments.record_adjustment(
        admin, p.public_id, 100, "EUR", "bonus", "2027-01", idempotency_key="adj-1"
    )
    again = await adjustments.record_adjustment(
        admin, p.public_id, 100, "EUR", "bonus", "2027-01", idempotency_key="adj-1"
    )
    assert again.id == keyed.id
    with pytest.raises(IdempotencyError):
        await adjustments.record_adjustment(
            admin, p.public_id, 200, "EUR", "bonus", "2027-01", idempotency_key="adj-1"
        )


async def test_two_racing_advances_with_one_key_make_one_advance(admin: Principal) -> None:
    p = await payee(admin)

    async def send() -> RoyaltyAdvance:
        return await advances.record_advance(
            admin, p.public_id, 7_000, "EUR", date(2026, 1, 10), "wire", "race-1"
        )

    first, second = await asyncio.gather(send(), send())
    assert first.id == second.id
    assert (await Payee.get(id=p.id)).advance_minor == 7_000
    assert await RoyaltyLedgerEntry.filter(payee_id=p.id).count() == 1
