"""The royalties catalog operations (issue 16): payees and works with their shares
over time, each with its typed refusals, and what a payee token or a service key may
see of them (contracts, rates, settings, advances, adjustments: test_catalog_terms_ops)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from db.models import Tenant
from db.royalty_models import (
    Payee,
    RoyaltyRun,
    WorkShare,
)
from domain.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from domain.pagination import page_request
from domain.royalties import advances, contracts, payees, works
from domain.royalties.run_inputs import load_shares
from domain.tenancy.access import Principal, Role
from tests.factories import admin_of, make_tenant

D = Decimal
PAGE = page_request(None, None)


async def payee(admin: Principal, name: str = "Ada", **data: Any) -> Payee:
    return await payees.create_payee(
        admin, {"name": name, "kind": "author", "payout_currency": "EUR", **data}
    )


def payee_token(tenant_id: int, payee_row: Payee) -> Principal:
    return Principal(tenant_id=tenant_id, role=Role.PAYEE, key_id=0, payee_id=payee_row.id)


def service_of(tenant: Tenant) -> Principal:
    return Principal(tenant_id=tenant.id, role=Role.SERVICE, key_id=0)


# -- payees --------------------------------------------------------------------------------
async def test_a_payee_is_created_with_every_field_checked(admin: Principal) -> None:
    agent = await payee(admin, "Agency", kind="agent")
    p = await payee(
        admin,
        "Amina",
        email=" amina@example.com ",
        language="FR",
        payout_currency="xof",
        payout_method="mobile_money",
        payout_account="+221 77 123 45 67",
        tax_id="SN-123",
        agent_id=agent.public_id,
        threshold_minor=5000,
    )
    assert p.public_id.startswith("pye_")
    assert (p.email, p.language, p.payout_currency) == ("amina@example.com", "fr", "XOF")
    assert (p.payout_method, p.payout_account) == ("mobile_money", "+221771234567")
    assert (p.agent_id, p.threshold_minor, p.tax_id) == (agent.id, 5000, "SN-123")
    assert (p.balance_minor, p.advance_minor, p.reserve_minor) == (0, 0, 0)


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"name": " "}, "name", "VALIDATION_ERROR"),
        ({"kind": "publisher"}, "kind", "INVALID_KIND"),
        ({"language": "it"}, "language", "INVALID_LANGUAGE"),
        ({"payout_currency": "EURO"}, "payoutCurrency", "UNKNOWN_CURRENCY"),
        ({"payout_method": "cheque"}, "payoutMethod", "INVALID_PAYOUT_METHOD"),
        ({"payout_method": "stripe_connect"}, "payoutAccount", "INVALID_PAYOUT_ACCOUNT"),
        (
            {"payout_method": "stripe_connect", "payout_account": "ba_123"},
            "payoutAccount",
            "INVALID_PAYOUT_ACCOUNT",
        ),
        (
            {"payout_method": "mobile_money", "payout_account": "0771234567"},
            "payoutAccount",
            "INVALID_PAYOUT_ACCOUNT",
        ),
        ({"email": "not-an-address"}, "email", "VALIDATION_ERROR"),
        ({"tax_id": "X" * 65}, "taxId", "VALIDATION_ERROR"),
        ({"threshold_minor": -1}, "thresholdMinor", "VALIDATION_ERROR"),
    ],
)
async def test_a_bad_payee_is_refused_naming_its_field(
    admin: Principal, data: dict[str, Any], field: str, code: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        await payee(admin, **data)
    assert (refused.value.field, refused.value.code) == (field, code)


async def test_a_stripe_connect_payee_keeps_its_account(admin: Principal) -> None:
    p = await payee(admin, payout_method="stripe_connect", payout_account="acct_1Nv0FGQ9RKHgCVdK")
    assert p.payout_account == "acct_1Nv0FGQ9RKHgCVdK"
    # Changing only the method to one that needs another account is refused.
    with pytest.raises(ValidationError) as refused:
        await payees.update_payee(admin, p.public_id, {"payout_method": "mobile_money"})
    assert refused.value.field == "payoutAccount"
    changed = await payees.update_payee(admin, p.public_id, {"name": "Ada L."})
    assert (changed.name, changed.payout_account) == ("Ada L.", "acct_1Nv0FGQ9RKHgCVdK")


async def test_agents_are_other_payees_of_the_tenant_without_cycles(admin: Principal) -> None:
    a, b, c = await payee(admin, "A"), await payee(admin, "B"), await payee(admin, "C")
    await payees.update_payee(admin, b.public_id, {"agent_id": a.public_id})  # B via A
    await payees.update_payee(admin, c.public_id, {"agent_id": b.public_id})  # C via B via A
    for target, agent in ((a, a), (a, c), (a, b)):
        with pytest.raises(ValidationError) as refused:
            await payees.update_payee(admin, target.public_id, {"agent_id": agent.public_id})
        assert (refused.value.field, refused.value.code) == ("agentId", "AGENT_CYCLE")
    other = await payee(admin_of(await make_tenant()), "Elsewhere")
    with pytest.raises(NotFoundError) as missing:
        await payees.update_payee(admin, a.public_id, {"agent_id": other.public_id})
    assert missing.value.field == "agentId"
    cleared = await payees.update_payee(admin, c.public_id, {"agent_id": None})
    assert cleared.agent_id is None


async def test_the_payout_currency_is_fixed_once_the_ledger_has_entries(
    admin: Principal,
) -> None:
    p = await payee(admin)
    assert (
        await payees.update_payee(admin, p.public_id, {"payout_currency": "USD"})
    ).payout_currency == "USD"
    await advances.record_advance(admin, p.public_id, 1000, "USD", date(2026, 1, 5), "wire 1")
    with pytest.raises(ConflictError) as refused:
        await payees.update_payee(admin, p.public_id, {"payout_currency": "EUR"})
    assert refused.value.code == "PAYOUT_CURRENCY_LOCKED"


async def test_payees_list_archive_and_a_payee_token_sees_itself_only(
    admin: Principal, tenant: Tenant
) -> None:
    a, b = await payee(admin, "A"), await payee(admin, "B")
    archived = await payees.archive_payee(admin, b.public_id)
    assert archived.archived_at is not None
    assert [p.name for p in (await payees.list_payees(admin, PAGE)).items] == ["A"]
    listed = await payees.list_payees(admin, PAGE, include_archived=True)
    assert [p.name for p in listed.items] == ["A", "B"]
    token = payee_token(tenant.id, a)
    assert [
        p.name for p in (await payees.list_payees(token, PAGE, include_archived=True)).items
    ] == ["A"]
    assert await payees.get_payee(token, b.public_id) is None
    assert (await payees.get_payee(token, a.public_id)).name == "A"  # type: ignore[union-attr]
    assert await payees.payees_by_ids(token, [b.id, a.id]) == [None, a]
    with pytest.raises(PermissionDeniedError):
        await payees.create_payee(token, {"name": "X", "payout_currency": "EUR"})
    with pytest.raises(PermissionDeniedError):
        await payees.list_payees(service_of(tenant), PAGE)


# -- works and shares -------------------------------------------------------------------------
async def test_shares_change_from_a_date_and_keep_their_history(admin: Principal) -> None:
    a, b, c = await payee(admin, "A"), await payee(admin, "B"), await payee(admin, "C")
    work = await works.create_work(
        admin,
        {
            "code": "book-1",
            "title": "Book",
            "shares": [{"payeeId": a.public_id, "share": "100"}],
            "effective_from": date(2026, 1, 1),
        },
    )
    # Three contributors 33.33 / 33.33 / 33.34 from March: exactly 100.
    three = [
        {"payeeId": a.public_id, "share": "33.33", "role": "author"},
        {"payeeId": b.public_id, "share": "33.33", "role": "translator"},
        {"payeeId": c.public_id, "share": "33.34", "role": "illustrator"},
    ]
    await works.set_work_shares(admin, work.public_id, three, date(2026, 3, 1))
    # Setting the same date again replaces that date's rows only.
    two = [{"payeeId": a.public_id, "share": "60"}, {"payeeId": b.public_id, "share": "40"}]
    await works.set_work_shares(admin, "book-1", two, date(2026, 3, 1))
    rows = await WorkShare.filter(work_id=work.id).order_by("effective_from", "id")
    assert [(str(r.effective_from), r.share, r.role) for r in rows] == [
        ("2026-01-01", "100", "author"),
        ("2026-03-01", "60", "author"),
        ("2026-03-01", "40", "author"),
    ]
    await works.set_work_shares(admin, work.public_id, three, date(2026, 6, 1))
    current, history = works.current_and_history(
        (await works.shares_by_work([work.id]))[0], date(2026, 4, 1)
    )
    assert [r.share for r in current] == ["60", "40"]
    assert [d.isoformat() for d, _ in history] == ["2026-01-01", "2026-03-01", "2026-06-01"]


async def test_shares_on_a_day_follow_their_dated_history(admin: Principal) -> None:
    a, b = await payee(admin, "A"), await payee(admin, "B")
    w1 = await works.create_work(admin, {"code": "w1", "title": "One"})
    w2 = await works.create_work(admin, {"code": "w2", "title": "Two"})
    w3 = await works.create_work(admin, {"code": "w3", "title": "No shares yet"})
    await works.set_work_shares(
        admin, w1.public_id, [{"payeeId": a.public_id, "share": "100"}], date(2026, 1, 1)
    )
    await works.set_work_shares(
        admin,
        w1.public_id,
        [{"payeeId": a.public_id, "share": "70"}, {"payeeId": b.public_id, "share": "30"}],
        date(2026, 2, 1),
    )
    await works.set_work_shares(
        admin, w2.public_id, [{"payeeId": b.public_id, "share": "100"}], date(2026, 2, 15)
    )
    # The royalty run reads every work's share history in one statement.
    book = await load_shares(admin.tenant_id)

    def at(day: date) -> dict[int, dict[int, D]]:
        found = {w.id: dict(book.at(w.id, day)) for w in (w1, w2, w3)}
        return {w: shares for w, shares in found.items() if shares}

    assert at(date(2026, 1, 31)) == {w1.id: {a.id: D(100)}}
    assert at(date(2026, 2, 1)) == {w1.id: {a.id: D(70), b.id: D(30)}}
    assert at(date(2026, 3, 1)) == {
        w1.id: {a.id: D(70), b.id: D(30)},
        w2.id: {b.id: D(100)},
    }
    assert at(date(2025, 12, 31)) == {}


@pytest.mark.parametrize(
    ("given", "field", "code"),
    [
        ([("a", "33.33"), ("b", "33.33"), ("c", "33.33")], "shares", "SHARES_NOT_100"),
        ([("a", "50"), ("b", "60")], "shares", "SHARES_NOT_100"),
        ([], "shares", "SHARES_NOT_100"),
        ([("a", "100"), ("b", "0")], "shares[1].share", "INVALID_SHARE"),
        ([("a", "150")], "shares[0].share", "INVALID_SHARE"),
        ([("a", "1e2")], "shares[0].share", "INVALID_DECIMAL"),
        ([("a", "50"), ("a", "50")], "shares[1].payeeId", "DUPLICATE_PAYEE"),
    ],
)
async def test_shares_must_sum_to_exactly_100(
    admin: Principal, given: list[tuple[str, str]], field: str, code: str
) -> None:
    people = {k: await payee(admin, k) for k in "abc"}
    work = await works.create_work(admin, {"code": "w", "title": "W"})
    items = [{"payeeId": people[k].public_id, "share": s} for k, s in given]
    with pytest.raises(ValidationError) as refused:
        await works.set_work_shares(admin, work.public_id, items, date(2026, 1, 1))
    assert (refused.value.field, refused.value.code) == (field, code)
    assert not await WorkShare.exists(work_id=work.id)


async def test_shares_name_payees_of_the_tenant_and_not_a_closed_period(
    admin: Principal, tenant: Tenant
) -> None:
    mine = await payee(admin)
    other = await payee(admin_of(await make_tenant()), "Elsewhere")
    work = await works.create_work(admin, {"code": "w", "title": "W"})
    foreign = [
        {"payeeId": mine.public_id, "share": "50"},
        {"payeeId": other.public_id, "share": "50"},
    ]
    with pytest.raises(NotFoundError) as missing:
        await works.set_work_shares(admin, work.public_id, foreign, date(2026, 1, 1))
    assert missing.value.field == "shares[1].payeeId"
    await RoyaltyRun.create(
        tenant_id=tenant.id, period="2026-02", status="completed", started_at=datetime.now(UTC)
    )
    alone = [{"payeeId": mine.public_id, "share": "100"}]
    with pytest.raises(ValidationError) as closed:
        await works.set_work_shares(admin, work.public_id, alone, date(2026, 2, 28))
    assert closed.value.code == "PERIOD_CLOSED"
    await works.set_work_shares(admin, work.public_id, alone, date(2026, 3, 1))
    with pytest.raises(NotFoundError):
        await works.set_work_shares(admin, "wrk_0000000000000000", alone, date(2026, 3, 1))


async def test_work_codes_are_unique_per_tenant(admin: Principal) -> None:
    await works.create_work(admin, {"code": "isbn-1", "title": "One"})
    second = await works.create_work(admin, {"code": "isbn-2", "title": "Two"})
    with pytest.raises(ConflictError) as clash:
        await works.create_work(admin, {"code": "isbn-1", "title": "Again"})
    assert (clash.value.code, clash.value.field) == ("DUPLICATE_CODE", "code")
    with pytest.raises(ConflictError):
        await works.update_work(admin, second.public_id, {"code": "isbn-1"})
    # Another tenant may use the same code.
    await works.create_work(admin_of(await make_tenant()), {"code": "isbn-1", "title": "Theirs"})
    renamed = await works.update_work(admin, second.public_id, {"title": "Two, revised"})
    assert renamed.title == "Two, revised"
    assert (await works.archive_work(admin, "isbn-2")).archived_at is not None
    assert [w.code for w in (await works.list_works(admin, PAGE)).items] == ["isbn-1"]


async def test_a_payee_token_sees_its_own_works_and_a_service_key_all(
    admin: Principal, tenant: Tenant
) -> None:
    a, b = await payee(admin, "A"), await payee(admin, "B")
    w1 = await works.create_work(
        admin, {"code": "w1", "title": "A's", "shares": [{"payeeId": a.public_id, "share": "100"}]}
    )
    w2 = await works.create_work(
        admin, {"code": "w2", "title": "B's", "shares": [{"payeeId": b.public_id, "share": "100"}]}
    )
    w3 = await works.create_work(admin, {"code": "w3", "title": "A's by contract"})
    await contracts.create_contract(
        admin, {"work_id": w3.public_id, "payee_id": a.public_id, "rules": {"SALE": {"rate": "10"}}}
    )
    token = payee_token(tenant.id, a)
    listed = await works.list_works(token, PAGE)
    assert [w.code for w in listed.items] == ["w1", "w3"]
    assert await listed.count() == 2
    assert await works.get_work(token, w2.public_id) is None
    assert (await works.get_work(token, "w1")).id == w1.id  # type: ignore[union-attr]
    assert len((await works.list_works(service_of(tenant), PAGE)).items) == 3
    # A service key (it records reads) sees works, not who is paid for them.
    assert await payees.payees_by_ids(service_of(tenant), [a.id]) == [None]
    by_payee = await works.list_works(admin, PAGE, payee_id=b.public_id)
    assert [w.code for w in by_payee.items] == ["w2"]
