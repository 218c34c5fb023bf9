# ruff: noqa: RUF001  (the multiplication sign and en dash are what invoices print)
"""Usage lines on invoice documents (issue 15): the new line kinds worded in the five
languages, and under a usage line its exact quantity, unit price, tiers and groups,
with numbers as each locale writes them, never rounded to cents."""

from __future__ import annotations

import html
import io
import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader

from db.invoice_models import InvoiceLine
from domain.invoicing import service
from domain.invoicing.documents import invoice_document
from domain.invoicing.i18n import LANGUAGES, line_label
from domain.invoicing.pdf import Document, render_html, render_pdf
from tests.domain.billing.conftest import World

MARCH, APRIL = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
NNBSP, NBSP, RLM = "\u202f", "\u00a0", "\u200f"

TOKENS = {  # graduated: 1,000 x 0.01 + 11,350 x 0.00011 + 0.50 = 11.7485 -> 11.75
    "charge": "chg_tokens",
    "metric": "tokens",
    "model": "GRADUATED",
    "units": "12350",
    "events": 3,
    "unitPrice": None,
    "tiers": [
        {"from": "0", "to": "1000", "units": "1000", "unitPrice": "0.01", "flatFee": "0",
         "amount": "10.00"},
        {"from": "1000", "to": None, "units": "11350", "unitPrice": "0.00011", "flatFee": "0.5",
         "amount": "1.7485"},
    ],
    "groups": [  # 1,175 shared 8,000 : 4,350 (largest remainder)
        {"group": {"direction": "input"}, "units": "8000", "amountMinor": 761},
        {"group": {"direction": "output"}, "units": "4350", "amountMinor": 414},
    ],
    "amountMinor": 1175,
}  # fmt: skip
MINUTES = {  # per unit: 12,350 x 0.0001 = 1.235 -> 1.24
    "charge": "chg_minutes",
    "metric": "minutes",
    "model": "PER_UNIT",
    "units": "12350",
    "events": 40,
    "unitPrice": "0.0001",
    "tiers": [],
    "groups": [],
    "amountMinor": 124,
}
LATE = {  # volume, February: 2,500 x 0.008 + 2 = 22.00, of which 15.00 was billed before
    "charge": "chg_gb",
    "metric": "GB",
    "model": "VOLUME",
    "units": "2500",
    "events": 7,
    "unitPrice": "0.008",
    "tiers": [
        {"from": "1000", "to": "5000", "units": "2500", "unitPrice": "0.008", "flatFee": "2",
         "amount": "22.000"},
    ],
    "groups": [],
    "amountMinor": 2200,
}  # fmt: skip


def line(kind: str, description: str, amount: int, details: Any, **extra: Any) -> dict:
    period = {"period_start": MARCH, "period_end": APRIL}
    return {
        "kind": kind,
        "description": description,
        "quantity": 1,
        "unit_amount_minor": amount,
        "amount_minor": amount,
        "details": details,
        **period,
        **extra,
    }


def usage_invoice(locale: str) -> Document:
    feb = datetime(2026, 2, 1, tzinfo=UTC)
    return Document(
        kind="invoice",
        number="F-2026-0042",
        status="open",
        locale=locale,
        currency="EUR",
        issued_at=APRIL,
        lines=[
            line("usage", "AI tokens", 1175, TOKENS),
            line("usage", "Stream minutes", 124, MINUTES),
            line("usage_adjustment", "Bandwidth", 700, LATE, period_start=feb, period_end=MARCH),
            # 100.00 committed, 12.99 used
            line("usage_minimum", "", 8701, {"term": "usage_minimum", "minimumMinor": 10000}),
            line("usage_discount", "5 %", -65, {"term": "usage_discount", "percent": "5"}),
            line(
                "sla_credit",
                "98.750 %",
                -325,
                {"term": "sla_credit", "uptime": "98.750", "percent": "25"},
            ),
        ],
        totals=[("subtotal", 10310), ("total", 10310), ("amount_due", 10310)],
    )


def shown(document: Document) -> str:
    return html.unescape(render_html(document))


EXPECTED = {
    "en": [
        "AI tokens",
        "12,350 tokens",
        "1–1,000: 1,000 × €0.01 + €0.00 flat fee = €10.00",
        "1,001 and above: 11,350 × €0.00011 + €0.50 flat fee = €1.7485",
        "Rounding: +€0.0015",
        "direction input: 8,000 tokens (€7.61)",
        "direction output: 4,350 tokens (€4.14)",
        "12,350 minutes × €0.0001 = €1.235",
        "Rounding: +€0.005",
        "Usage adjustment: Bandwidth",
        "1,001–5,000: 2,500 × €0.008 + €2.00 flat fee = €22.00",
        "Already invoiced: -€15.00",
        "Minimum commitment true-up",
        "Committed minimum: €100.00",
        "Volume discount 5%",
        "SLA credit (uptime 98.750%)",
        "25% of the period's usage charges",
    ],
    "fr": [
        f"12{NNBSP}350 tokens",
        f"1–1{NNBSP}000 : 1{NNBSP}000 × 0,01{NBSP}€ + 0,00{NBSP}€ de frais fixes = 10,00{NBSP}€",
        f"à partir de 1{NNBSP}001 : 11{NNBSP}350 × 0,00011{NBSP}€",
        f"Arrondi : +0,0015{NBSP}€",
        f"12{NNBSP}350 minutes × 0,0001{NBSP}€ = 1,235{NBSP}€",
        "Ajustement de consommation : Bandwidth",
        f"Déjà facturé : -15,00{NBSP}€",
        "Complément d'engagement minimum",
        f"Engagement minimum : 100,00{NBSP}€",
        f"Remise sur volume 5{NBSP}%",
        f"Avoir SLA (disponibilité 98,750{NBSP}%)",
        f"25{NBSP}% des frais de consommation de la période",
    ],
    "de": [
        "12.350 tokens",
        f"1–1.000: 1.000 × 0,01{NBSP}€ + 0,00{NBSP}€ Grundgebühr = 10,00{NBSP}€",
        f"ab 1.001: 11.350 × 0,00011{NBSP}€",
        f"Rundung: +0,0015{NBSP}€",
        f"12.350 minutes × 0,0001{NBSP}€ = 1,235{NBSP}€",
        "Nutzungskorrektur: Bandwidth",
        f"Bereits berechnet: -15,00{NBSP}€",
        "Ausgleich auf den Mindestumsatz",
        f"Vereinbarter Mindestumsatz: 100,00{NBSP}€",
        f"Mengenrabatt 5{NBSP}%",
        f"SLA-Gutschrift (Verfügbarkeit 98,750{NBSP}%)",
    ],
    "es": [
        "12.350 tokens",
        f"1–1.000: 1.000 × 0,01{NBSP}€ + 0,00{NBSP}€ de cargo fijo = 10,00{NBSP}€",
        f"desde 1.001: 11.350 × 0,00011{NBSP}€",
        f"Redondeo: +0,0015{NBSP}€",
        f"12.350 minutes × 0,0001{NBSP}€ = 1,235{NBSP}€",
        "Ajuste de consumo: Bandwidth",
        f"Ya facturado: -15,00{NBSP}€",
        "Ajuste al compromiso mínimo",
        f"Compromiso mínimo: 100,00{NBSP}€",
        f"Descuento por volumen 5{NBSP}%",
        f"Crédito por SLA (disponibilidad 98,750{NBSP}%)",
    ],
    "ar": [
        "12,350 tokens",
        f"1–1,000: 1,000 × {RLM}0.01{NBSP}€ + {RLM}0.00{NBSP}€ رسوم ثابتة = {RLM}10.00{NBSP}€",
        f"1,001 فأكثر: 11,350 × {RLM}0.00011{NBSP}€",
        f"التقريب: {RLM}+0.0015{NBSP}€",
        f"12,350 minutes × {RLM}0.0001{NBSP}€ = {RLM}1.235{NBSP}€",
        "تسوية الاستهلاك: Bandwidth",
        f"سبقت فوترته: {RLM}-15.00{NBSP}€",
        "تسوية الحد الأدنى للالتزام",
        f"الحد الأدنى المتفق عليه: {RLM}100.00{NBSP}€",
        "خصم الكمية 5%",
        "رصيد اتفاقية مستوى الخدمة (نسبة التوفر 98.750%)",
        "25% من رسوم الاستهلاك للفترة",
    ],
}


def test_every_language_is_checked() -> None:
    assert sorted(EXPECTED) == sorted(LANGUAGES)


@pytest.mark.parametrize("locale", LANGUAGES)
def test_usage_lines_in_each_language(locale: str) -> None:
    page = shown(usage_invoice(locale))
    for needle in EXPECTED[locale]:
        assert needle in page, (locale, needle)
    assert ("dir='rtl'" in page) is (locale == "ar")
    # Small print in points: xhtml2pdf reads <font size='7.5'> as HTML size 7 (huge).
    assert "<font size" not in page and "class='small'" in page
    # Sub-cent prices keep every decimal: never "0.00" for 0.0001 or 0.00011.
    assert not re.search(r"[×] \W*0[.,]00\W*€", page), page


def test_volume_line_shows_its_reached_tier_and_what_was_billed_before() -> None:
    page = shown(usage_invoice("en"))
    assert "2,500 GB × €0.008" in page and "= €20.00" not in page  # the flat fee is in the tier
    assert "1,001–5,000: 2,500 × €0.008 + €2.00 flat fee = €22.00" in page
    # 22.00 for February, 15.00 of it on February's invoice: the line bills 7.00.
    assert page.index("Already invoiced: -€15.00") > page.index("Usage adjustment: Bandwidth")


def test_tier_rows_sum_visibly_to_the_line() -> None:
    # 10.00 + 1.7485 + 0.0015 rounding = 11.75, the line's amount.
    page = shown(usage_invoice("en"))
    tokens = page[page.index("AI tokens") : page.index("Stream minutes")]
    parts = re.findall(r"= €([\d.]+)|Rounding: \+€([\d.]+)", tokens)
    total = sum(Decimal(a or b) for a, b in parts)
    assert total == Decimal("11.75") and "€11.75" in tokens


def test_sub_minor_prices_in_other_currencies() -> None:
    def one(currency: str, price: str, amount: int) -> str:
        details = {**MINUTES, "unitPrice": price, "amountMinor": amount}
        doc = Document(
            kind="invoice",
            number="F-1",
            status="open",
            locale="en",
            currency=currency,
            issued_at=APRIL,
            lines=[line("usage", "Minutes", amount, details)],
        )
        return shown(doc)

    assert "12,350 minutes × ¥0.5 = ¥6,175" in one("JPY", "0.5", 6175)
    kwd = one("KWD", "0.00015", 1853)  # 1.8525 KWD -> 1.853
    assert f"12,350 minutes × KWD{NBSP}0.00015 = KWD{NBSP}1.8525" in kwd
    assert f"Rounding: +KWD{NBSP}0.0005" in kwd


def test_free_units_are_not_multiplied_out_wrongly() -> None:
    # 100 free units: 12,250 billed x 0.0001 = 1.225 -> 1.23, not 12,350 x 0.0001.
    details = {**MINUTES, "amountMinor": 123}
    page = shown(
        Document(
            kind="invoice",
            number="F-1",
            status="open",
            locale="en",
            currency="EUR",
            issued_at=APRIL,
            lines=[line("usage", "Minutes", 123, details)],
        )
    )
    assert "12,350 minutes × €0.0001" in page and "= €1.235" not in page
    assert "Rounding" not in page


def test_line_labels_with_and_without_details() -> None:
    # As the API words them (no details): the stored figure as it is.
    assert line_label("sla_credit", "98.750 %", "en") == "SLA credit (uptime 98.750 %)"
    assert line_label("usage_discount", "5 %", "de") == "Mengenrabatt 5 %"
    assert line_label("usage", "AI tokens", "fr") == "AI tokens"
    minimum = {"term": "usage_minimum", "minimumMinor": 10000}
    assert line_label("usage_minimum", "", "es") == "Ajuste al compromiso mínimo"
    assert (
        line_label("usage_adjustment", "", "fr", minimum)
        == "Ajustement de consommation : Complément d'engagement minimum"
    )
    sla = {"term": "sla_credit", "uptime": "99.5", "percent": "10"}
    assert line_label("usage_adjustment", "99.5 %", "de", sla) == (
        f"Nutzungskorrektur: SLA-Gutschrift (Verfügbarkeit 99,5{NBSP}%)"
    )
    assert line_label("usage_adjustment", "Tokens", "ar", TOKENS) == "تسوية الاستهلاك: Tokens"


def pdf_text(pdf: bytes) -> str:
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return " ".join(unicodedata.normalize("NFKC", text).split())


def test_arabic_usage_invoice_renders_as_pdf() -> None:
    pdf = render_pdf(render_html(usage_invoice("ar")))
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert "12,350" in text and "0.00011" in text and "98.750" in text


async def test_stored_usage_line_reaches_the_pdf(world: World) -> None:
    """`invoice_document` reads `details` from the database."""
    customer = await world.customer_on_clock(name="Jeanne", locale="fr")
    item = {"description": "Onboarding", "quantity": 1, "unit_price": {"currency": "EUR",
            "amount": "10.00"}}  # fmt: skip
    invoice = await service.create_invoice(
        world.admin, {"customer_id": customer.public_id, "items": [item]}
    )
    await InvoiceLine.create(
        invoice_id=invoice.id,
        position=99,
        kind="usage",
        description="Stream minutes",
        quantity=1,
        unit_amount_minor=124,
        amount_minor=124,
        period_start=MARCH,
        period_end=APRIL,
        details=MINUTES,
    )
    document = await invoice_document(invoice)
    assert [ln["details"] for ln in document.lines] == [None, MINUTES]
    page = html.unescape(render_html(document))
    assert f"12{NNBSP}350 minutes × 0,0001{NBSP}€ = 1,235{NBSP}€" in page
    assert f"Arrondi : +0,005{NBSP}€" in page
    pdf = render_pdf(render_html(document))
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert "Stream minutes" in text and "0,0001" in text and "Arrondi" in text
