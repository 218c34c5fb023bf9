"""Royalty statements as documents (issue 16): the HTML shows every figure in the
payee's language (Arabic right to left), the PDF renders in all five, the CSV parses
and adds up, and a statement is served only to whom may read it (domain and HTTP).

The rows are made directly (Payee, RoyaltyStatement) with a `document` as the royalty
run writes it. Its figures, in EUR unless a line says otherwise:

    The Long Road, sales   5,000 units at 10 % (tier 1) of 10,000.00  = 1,000.00
                           200 units at 12.5 % (tier 2) of 400.00     =    50.00
    Bees, subscription     1,234 reads, 50 % of USD 200.00 = USD 100.00 → 92.00 at 0.92
    Adjustment             festival bonus                            =    25.00
    earnings 1,167.00; returns 30.00 (The Long Road); opening 10.00
    reserve withheld 20 % of sales 1,050.00 = 210.00, released 40.00
    advance recouped 500.00 (250.00 still unrecouped)
    balance = 10 + 1,167 - 30 - 210 + 40 - 500 = 477.00, all payable, 0 carried
"""

from __future__ import annotations

import csv
import io
import secrets
import unicodedata
from decimal import Decimal
from html import escape
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from db.models import Tenant
from db.royalty_models import Payee, RoyaltyStatement
from domain import clock
from domain.errors import NotFoundError, PermissionDeniedError, ValidationError
from domain.ids import new_id
from domain.invoicing.i18n import number_text, percent_text
from domain.money import decimal_string, format_money
from domain.royalties.documents import (
    CSV_COLUMNS,
    render_statement_html,
    statement_csv,
    statement_file,
    statement_pdf,
)
from domain.royalties.statement_i18n import KINDS, LABELS, STATUSES, tier_label
from domain.tenancy.access import Principal, Role
from tests.factories import make_key, make_tenant

LANGUAGES = ("en", "fr", "de", "es", "ar")
LONG_ROAD = {"work": "wrk_LongRoad00000000", "workCode": "LR-1", "workTitle": "The Long Road"}
BEES = {"work": "wrk_Bees000000000000", "workCode": "=BEES", "workTitle": "Bees & <Honey>"}
NO_WORK = {"work": None, "workCode": None, "workTitle": None}


LINE_KEYS = ("kind", "currency", "tier", "rate", "units", "basisMinor", "earnedMinor")


def statement_line(work: dict[str, Any], *values: Any) -> dict[str, Any]:
    """A line: its work, then kind, currency, tier, rate, units, basis, earned, amount."""
    return {**work, **dict(zip((*LINE_KEYS, "amountMinor"), values, strict=True))}


def converted(*values: Any) -> dict[str, Any]:
    """A conversion: from currency, from amount, rate, to currency, to amount."""
    keys = ("fromCurrency", "fromMinor", "rate", "toCurrency", "toMinor")
    return dict(zip(keys, values, strict=True))


def statement_document(language: str = "en", **overrides: Any) -> dict[str, Any]:
    """A statement's `document` as the royalty run writes it (the figures above)."""
    doc: dict[str, Any] = {
        "payee": {
            "id": "pye_Ada0000000000000",
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "taxId": "FR40303265045",
            "language": language,
            "agent": "Agence Lire",
        },
        "tenant": {
            "name": "Pages",
            "legalName": "Pages Éditions SAS",
            "address": ["1 rue de la Paix", "75002 Paris"],
            "country": "FR",
        },
        "period": "2026-11",
        "currency": "EUR",
        "lines": [
            statement_line(LONG_ROAD, "SALE", "EUR", 0, "10", 5000, 1_000_000, 100_000, 100_000),
            statement_line(LONG_ROAD, "SALE", "EUR", 1, "12.5", 200, 40_000, 5_000, 5_000),
            statement_line(
                BEES, "SUBSCRIPTION_READ", "USD", None, "50", 1234, 20_000, 10_000, 9_200
            ),
            statement_line(NO_WORK, "ADJUSTMENT", "EUR", None, None, 0, 0, 2_500, 2_500),
        ],
        "earnings": [
            {**LONG_ROAD, "kind": "SALE", "amountMinor": 105_000},
            {**BEES, "kind": "SUBSCRIPTION_READ", "amountMinor": 9_200},
            {**NO_WORK, "kind": "ADJUSTMENT", "amountMinor": 2_500},
        ],
        "returns": [{**LONG_ROAD, "kind": "SALE", "amountMinor": 3_000}],
        "adjustments": [
            {"reason": "Festival bonus", "amountMinor": 2_500, "currency": "EUR", "work": None}
        ],
        "conversions": [converted("USD", 10_000, "0.92", "EUR", 9_200)],
        "openingMinor": 1_000,
        "earningsMinor": 116_700,
        "returnsMinor": 3_000,
        "reserveWithheldMinor": 21_000,
        "reserveReleasedMinor": 4_000,
        "recoupedMinor": 50_000,
        "advanceRemainingMinor": 25_000,
        "payableMinor": 47_700,
        "closingMinor": 0,
        "outcome": "PAYABLE",
    }
    doc.update(overrides)
    return doc


async def make_payee(tenant: Any, **fields: Any) -> Payee:
    now = clock.now()
    values: dict[str, Any] = {
        "name": "Ada Lovelace",
        "kind": "author",
        "language": "en",
        "payout_currency": "EUR",
        **fields,
    }
    return await Payee.create(
        public_id=new_id("payee"), tenant_id=tenant.id, created_at=now, updated_at=now, **values
    )


async def make_statement(
    tenant: Any,
    payee: Payee,
    *,
    status: str = "draft",
    period: str = "2026-11",
    document: dict[str, Any] | None = None,
) -> RoyaltyStatement:
    """A statement row as the run writes it: its figures in columns and in `document`."""
    doc = document or statement_document(payee.language)
    doc["payee"]["id"] = payee.public_id
    now = clock.now()
    return await RoyaltyStatement.create(
        public_id=new_id("royalty_statement"),
        tenant_id=tenant.id,
        payee_id=payee.id,
        period=period,
        currency=doc["currency"],
        language=payee.language,
        status=status,
        opening_minor=doc["openingMinor"],
        earnings_minor=doc["earningsMinor"],
        returns_minor=doc["returnsMinor"],
        adjustments_minor=sum(a["amountMinor"] for a in doc["adjustments"]),
        reserve_withheld_minor=doc["reserveWithheldMinor"],
        reserve_released_minor=doc["reserveReleasedMinor"],
        recouped_minor=doc["recoupedMinor"],
        advance_remaining_minor=doc["advanceRemainingMinor"],
        payable_minor=doc["payableMinor"],
        closing_minor=doc["closingMinor"],
        document=doc,
        created_at=now,
        updated_at=now,
    )


def pdf_text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    # Arabic comes out as presentation forms in visual order: NFKC gives the letters back.
    return " ".join(unicodedata.normalize("NFKC", text).split())


def money(minor: int, currency: str, lang: str) -> str:
    return format_money(minor, currency, lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_html_shows_every_figure_in_the_payees_language(lang: str) -> None:
    doc = statement_document(lang)
    html = render_statement_html(doc, status="approved", reference="rst_0123456789abcdef")
    assert ("dir='rtl'" in html) is (lang == "ar")
    assert f"lang='{lang}'" in html
    words = LABELS[lang]
    for key in (
        "title", "opening", "earnings", "returns", "reserve_withheld", "reserve_released",
        "recouped", "advance_remaining", "payable", "carried", "adjustments", "conversions",
        "details", "tier", "rate", "units", "basis",
    ):  # fmt: skip
        assert escape(words[key]) in html, (lang, key)
    assert escape(STATUSES[lang]["approved"]) in html and "rst_0123456789abcdef" in html
    for kind in ("SALE", "SUBSCRIPTION_READ", "ADJUSTMENT"):
        assert escape(KINDS[lang][kind]) in html
    # The summary: deductions shown negative, then the balance, payable and carried.
    for minor in (1_000, 116_700, -3_000, -21_000, 4_000, -50_000, 47_700, 0, 25_000):
        assert escape(money(minor, "EUR", lang)) in html, (lang, minor)
    # Earnings per work and type, and each line: units, basis, rate, tier, amounts.
    for minor in (105_000, 9_200, 2_500, 3_000, 100_000, 5_000, 1_000_000, 40_000):
        assert escape(money(minor, "EUR", lang)) in html, (lang, minor)
    for minor in (20_000, 10_000):  # the subscription line's basis and earnings, in USD
        assert escape(money(minor, "USD", lang)) in html, (lang, minor)
    for figure in (number_text(5000, lang), number_text(1234, lang), number_text(200, lang)):
        assert figure in html
    for rate in ("10", "12.5", "50"):
        assert escape(percent_text(rate, lang) or "") in html
    assert tier_label(0, lang) in html and tier_label(1, lang) in html
    # Works by title and code, escaped; the adjustment's reason; the conversion.
    assert "The Long Road" in html and "LR-1" in html
    assert "Bees &amp; &lt;Honey&gt;" in html and "<Honey>" not in html
    assert "Festival bonus" in html
    assert f"1 USD = {number_text('0.92', lang)}" in html
    assert escape(money(10_000, "USD", lang)) in html and escape(money(9_200, "EUR", lang)) in html
    # Parties and the outcome.
    for text in ("Ada Lovelace", "ada@example.com", "FR40303265045", "Pages Éditions SAS"):
        assert escape(text) in html
    assert escape(words["outcome_PAYABLE"].format(amount=money(47_700, "EUR", lang))) in html


def test_a_carried_statement_says_so_and_leaves_out_empty_sections() -> None:
    doc = statement_document(
        "fr",
        lines=[],
        earnings=[],
        returns=[],
        adjustments=[],
        conversions=[],
        earningsMinor=0,
        returnsMinor=0,
        reserveWithheldMinor=0,
        reserveReleasedMinor=0,
        recoupedMinor=0,
        advanceRemainingMinor=0,
        openingMinor=4_200,
        payableMinor=0,
        closingMinor=4_200,
        outcome="CARRIED",
    )
    html = render_statement_html(doc, status="carried")
    assert escape(LABELS["fr"]["outcome_CARRIED"]) in html
    assert escape(STATUSES["fr"]["carried"]) in html
    assert LABELS["fr"]["details"] not in html and LABELS["fr"]["conversions"] not in html
    assert html.count(escape(money(4_200, "EUR", "fr"))) == 3  # opening, balance, carried


EXPECTED_IN_PDF = {
    "en": ("Royalty statement", "€477.00"),
    "fr": ("Relevé de droits", "477,00 €"),
    "de": ("Tantiemenabrechnung", "477,00 €"),
    "es": ("Liquidación de derechos", "477,00 €"),
    "ar": ("كشف حقوق المؤلف", "477.00"),
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_pdf_renders_in_each_language(lang: str) -> None:
    pdf = statement_pdf(statement_document(lang), status="draft", reference="rst_x")
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf)
    title, payable = EXPECTED_IN_PDF[lang]
    flat = text.replace("\u00a0", " ").replace("\u202f", " ")
    for needle in ("Ada Lovelace", "FR40303265045", "LR-1", payable):
        assert needle in flat, (lang, needle, text)
    words = unicodedata.normalize("NFKC", title).split()
    assert all(w in text or w[::-1] in text for w in words), (lang, text)


def test_a_statement_in_xof_renders_without_decimals() -> None:
    """A payout currency of exponent 0: EUR earnings converted at 655.957."""
    doc = statement_document(
        "fr",
        currency="XOF",
        lines=[statement_line(LONG_ROAD, "SALE", "EUR", None, "70", 1, 1_000, 700, 4_592)],
        earnings=[{**LONG_ROAD, "kind": "SALE", "amountMinor": 4_592}],
        returns=[],
        adjustments=[],
        conversions=[converted("EUR", 700, "655.957", "XOF", 4_592)],  # 7.00 EUR → 4,591.699
        **dict.fromkeys(
            ("openingMinor", "returnsMinor", "reserveWithheldMinor", "reserveReleasedMinor"), 0
        ),
        **dict.fromkeys(("recoupedMinor", "advanceRemainingMinor", "payableMinor"), 0),
        earningsMinor=4_592,
        closingMinor=4_592,
        outcome="CARRIED",
    )
    html = render_statement_html(doc)
    assert escape(money(4_592, "XOF", "fr")) in html and "655,957" in html
    rows = list(csv.DictReader(io.StringIO(statement_csv(doc))))
    (conversion,) = [r for r in rows if r["section"] == "conversion"]
    assert (conversion["sourceAmount"], conversion["amount"]) == ("7.00", "4592")
    assert conversion["exchangeRate"] == "655.957"
    assert pdf_text(statement_pdf(doc))


def test_the_csv_parses_and_adds_up_to_the_statement() -> None:
    doc = statement_document()
    text = statement_csv(doc, status="approved")
    reader = csv.reader(io.StringIO(text))
    assert tuple(next(reader)) == CSV_COLUMNS  # a stable header
    rows = list(csv.DictReader(io.StringIO(text)))
    assert all(r["period"] == "2026-11" and r["payee"] == doc["payee"]["id"] for r in rows)

    def total(section: str) -> Decimal:
        return sum((Decimal(r["amount"]) for r in rows if r["section"] == section), Decimal(0))

    lines = [r for r in rows if r["section"] == "line"]
    assert len(lines) == len(doc["lines"])
    assert all(r["currency"] == "EUR" for r in lines)
    summary = {r["kind"]: r for r in rows if r["section"] == "summary"}
    figure = {k: Decimal(v["amount"]) for k, v in summary.items() if v["amount"]}
    assert total("line") == figure["earnings"] == Decimal("1167.00")
    assert total("return") == figure["returns"] == Decimal("30.00")
    assert figure["closing"] == (
        figure["opening"]
        + figure["earnings"]
        - figure["returns"]
        - figure["reserveWithheld"]
        + figure["reserveReleased"]
        - figure["recouped"]
        - figure["payable"]
    )
    assert figure["payable"] == Decimal("477.00") and figure["advanceRemaining"] == Decimal("250")
    assert summary["outcome"]["note"] == "PAYABLE" and summary["status"]["note"] == "approved"
    # Each line in the sale's currency too, its tier counted from 1 and its rate in percent.
    bees = next(r for r in lines if r["kind"] == "SUBSCRIPTION_READ")
    assert (bees["basis"], bees["sourceAmount"], bees["sourceCurrency"]) == (
        "200.00",
        "100.00",
        "USD",
    )
    assert (bees["amount"], bees["units"], bees["ratePercent"]) == ("92.00", "1234", "50")
    tiers = [r["escalatorTier"] for r in lines if r["kind"] == "SALE"]
    assert tiers == ["1", "2"]
    for line, row in zip(doc["lines"], lines, strict=True):
        assert row["amount"] == decimal_string(line["amountMinor"], "EUR")
    # Adjustments with their reasons; conversions from, rate, to.
    (adjustment,) = [r for r in rows if r["section"] == "adjustment"]
    assert (adjustment["amount"], adjustment["note"]) == ("25.00", "Festival bonus")
    (conversion,) = [r for r in rows if r["section"] == "conversion"]
    assert (conversion["sourceAmount"], conversion["sourceCurrency"]) == ("100.00", "USD")
    assert (conversion["exchangeRate"], conversion["amount"]) == ("0.92", "92.00")
    # A work code a spreadsheet would run as a formula is quoted, never run.
    assert bees["workCode"] == "'=BEES"


# -- who may read a statement ------------------------------------------------------


@pytest.fixture
async def two_payees(db: str) -> dict[str, Any]:
    tenant = await make_tenant()
    ada = await make_payee(tenant, language="fr")
    bob = await make_payee(tenant, name="Bob")
    mine = await make_statement(tenant, ada)
    theirs = await make_statement(tenant, bob)
    return {"tenant": tenant, "ada": ada, "bob": bob, "mine": mine, "theirs": theirs}


def payee_token(tenant: Tenant, payee: Payee) -> Principal:
    return Principal(tenant_id=tenant.id, role=Role.PAYEE, key_id=0, payee_id=payee.id)


async def test_statement_file_is_scoped_to_the_tenant_and_the_payee(
    two_payees: dict[str, Any],
) -> None:
    w = two_payees
    admin = Principal(tenant_id=w["tenant"].id, role=Role.ADMIN, key_id=0)
    body, content_type, name = await statement_file(admin, w["mine"].public_id, "pdf")
    assert body.startswith(b"%PDF-") and content_type == "application/pdf"
    assert name == f"royalty-statement-2026-11-{w['mine'].public_id}.pdf"
    assert "Relevé de droits" in pdf_text(body)  # Ada reads French
    body, content_type, name = await statement_file(admin, w["mine"].public_id, "csv")
    assert content_type.startswith("text/csv") and name.endswith(".csv")
    assert next(csv.reader(io.StringIO(body.decode()))) == list(CSV_COLUMNS)

    ada = payee_token(w["tenant"], w["ada"])
    assert (await statement_file(ada, w["mine"].public_id, "csv"))[0] == body
    with pytest.raises(NotFoundError):  # another payee's statement reads as missing
        await statement_file(ada, w["theirs"].public_id, "pdf")
    unbound = Principal(tenant_id=w["tenant"].id, role=Role.PAYEE, key_id=0)
    with pytest.raises(NotFoundError):
        await statement_file(unbound, w["mine"].public_id, "csv")
    other_tenant = await make_tenant()
    stranger = Principal(tenant_id=other_tenant.id, role=Role.ADMIN, key_id=0)
    with pytest.raises(NotFoundError):
        await statement_file(stranger, w["mine"].public_id, "csv")
    for role in (Role.SERVICE, Role.CUSTOMER):
        with pytest.raises(PermissionDeniedError):
            await statement_file(
                Principal(tenant_id=w["tenant"].id, role=role, key_id=0),
                w["mine"].public_id,
                "csv",
            )
    with pytest.raises(ValidationError):
        await statement_file(admin, w["mine"].public_id, "xlsx")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        await statement_file(admin, "in_0123456789abcdef", "csv")


async def test_statements_are_served_over_http(
    client: httpx.AsyncClient, two_payees: dict[str, Any]
) -> None:
    w = two_payees
    key = await make_key(tenant=w["tenant"])
    auth = {"authorization": f"Bearer {key}"}
    path = f"/v1/royalty-statements/{w['mine'].public_id}"
    response = await client.get(f"{path}.pdf", headers=auth)
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "private, no-store"
    response = await client.get(f"{path}.csv", headers=auth)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[-1]["note"] == "draft"

    assert (await client.get(f"{path}.pdf")).status_code == 401
    assert (await client.get(f"{path}.xlsx", headers=auth)).status_code == 404
    missing = f"/v1/royalty-statements/rst_{secrets.token_hex(8)}.csv"
    assert (await client.get(missing, headers=auth)).status_code == 404
    stranger = await make_key(tenant=await make_tenant())
    response = await client.get(f"{path}.csv", headers={"authorization": f"Bearer {stranger}"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    service = await make_key(tenant=w["tenant"], role=Role.SERVICE)
    response = await client.get(f"{path}.csv", headers={"authorization": f"Bearer {service}"})
    assert response.status_code == 403
