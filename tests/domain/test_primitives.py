"""Ids, cursors, validation helpers, secret encryption, roles and the clock."""

from __future__ import annotations

import string
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import clock, ids, validation
from domain.errors import PermissionDeniedError, ValidationError
from domain.ids import check_id, new_id
from domain.pagination import MAX_PAGE, decode_cursor, encode_cursor, page_request
from domain.secrets_box import SecretBox
from domain.tenancy.access import Permission, Principal, Role


def test_ids_are_prefixed_and_checked() -> None:
    cid = new_id("customer")
    assert cid.startswith("cus_") and len(cid) == 20
    assert check_id(cid, "customer") == cid
    with pytest.raises(ValidationError) as err:
        check_id(cid, "plan")
    assert err.value.code == "INVALID_ID"
    for bad in (
        "",
        "cus_",
        "cus_short",
        "cus_" + "x" * 17,
        "1; DROP TABLE",
        "cus_!!!!!!!!!!!!!!!!",
    ):
        with pytest.raises(ValidationError):
            check_id(bad, "customer")


def test_id_characters_are_uniform_and_ids_unique() -> None:
    ids = [new_id("credit_entry") for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    counts = Counter("".join(i.removeprefix("cle_") for i in ids))
    assert set(counts) == set(string.ascii_letters + string.digits)
    expected = 20_000 * 16 / 62  # about 5,161 each; a biased mapping is off by far more
    assert all(abs(n - expected) < 0.1 * expected for n in counts.values()), counts


def test_id_draws_again_when_too_many_bytes_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter([bytes([255] * 20 + [0, 1, 61, 62]), bytes(range(24))])
    monkeypatch.setattr(ids.os, "urandom", lambda n: next(draws))
    assert new_id("customer") == "cus_ab9a" + "abcdefghijkl"


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_cursor_round_trip(key: int) -> None:
    assert decode_cursor(encode_cursor(key)) == key


@pytest.mark.parametrize("bad", ["", "!!!", "YWJj", encode_cursor(1)[:-1] + "$"])
def test_bad_cursor_is_a_validation_error(bad: str) -> None:
    with pytest.raises(ValidationError) as err:
        page_request(10, bad or "x")
    assert err.value.field == "after"


def test_page_size_bounds() -> None:
    assert page_request(None, None).first == 25
    assert page_request(MAX_PAGE, None).first == MAX_PAGE
    assert page_request(0, None).first == 0
    for bad in (-1, MAX_PAGE + 1):
        with pytest.raises(ValidationError) as err:
            page_request(bad, None)
        assert err.value.field == "first"


def test_validation_helpers() -> None:
    assert validation.country("fr") == "FR"
    assert len(validation.countries()) >= 245
    for bad in ("XX", "EU", "FRA", ""):
        with pytest.raises(ValidationError):
            validation.country(bad)
    assert validation.locale("AR") == "ar"
    with pytest.raises(ValidationError):
        validation.locale("it")
    assert validation.timezone("Africa/Algiers") == "Africa/Algiers"
    with pytest.raises(ValidationError):
        validation.timezone("Mars/Olympus")
    assert validation.vat_id("fr 40 303 265 045") == "FR40303265045"
    with pytest.raises(ValidationError):
        validation.vat_id("12345")
    assert validation.email("") is None
    with pytest.raises(ValidationError):
        validation.email("not-an-email")
    with pytest.raises(ValidationError):
        validation.metadata(["not", "an", "object"])
    with pytest.raises(ValidationError):
        validation.metadata({str(i): i for i in range(51)})


def test_secret_box_round_trip_and_binding() -> None:
    box = SecretBox("a-long-enough-secret-key")
    token = box.encrypt("sk_test_123", context="tenant:1")
    assert "sk_test_123" not in token
    assert box.decrypt(token, context="tenant:1") == "sk_test_123"
    with pytest.raises(ValueError):
        box.decrypt(token, context="tenant:2")
    with pytest.raises(ValueError):
        SecretBox("another-long-secret-key").decrypt(token, context="tenant:1")


def test_roles() -> None:
    service = Principal(tenant_id=1, role=Role.SERVICE, key_id=1)
    assert service.can(Permission.CATALOG_READ) and service.can(Permission.CUSTOMERS_READ)
    for denied in (Permission.CATALOG_WRITE, Permission.CUSTOMERS_WRITE, Permission.API_KEYS):
        with pytest.raises(PermissionDeniedError):
            service.require(denied)
    customer = Principal(tenant_id=1, role=Role.CUSTOMER, key_id=2, customer_id=5)
    assert customer.can(Permission.CUSTOMER_SELF_WRITE)
    assert not customer.can(Permission.CUSTOMERS_WRITE)
    admin = Principal(tenant_id=1, role=Role.ADMIN, key_id=3)
    assert all(admin.can(p) for p in Permission if p is not Permission.CUSTOMER_SELF_WRITE)


def test_clock_can_be_replaced_and_never_goes_back() -> None:
    fixed = clock.FixedClock(datetime(2026, 1, 31, tzinfo=UTC))
    with clock.using_clock(fixed):
        assert clock.now() == datetime(2026, 1, 31, tzinfo=UTC)
        fixed.advance(timedelta(days=1))
        assert clock.now().day == 1
        with pytest.raises(ValueError):
            fixed.advance(timedelta(seconds=-1))
    # Leaving the block restores the system clock: wall time, not the fixed instant.
    before = datetime.now(UTC)
    restored = clock.now()
    assert before <= restored <= datetime.now(UTC)


def _nested(levels: int) -> dict[str, object]:
    value: dict[str, object] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize("bad", [_nested(300), {"n": 2**70}, {"k": "\ud800"}])
def test_metadata_that_cannot_be_stored_is_a_validation_error(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as caught:
        validation.metadata(bad)
    assert caught.value.field == "metadata"


def test_text_with_nul_is_refused_and_long_values_are_not_echoed() -> None:
    with pytest.raises(ValidationError):
        validation.text("Ada\x00", field="name", max_length=200)
    with pytest.raises(ValidationError) as caught:
        validation.country("x" * 100_000)
    assert len(caught.value.message) < 200
