"""The KPI report as a PDF (issue 17): the chart on its own, then a month with every
family rendered in the five languages and read back with pypdf, then the file of a
real book in the tenant's language."""

from __future__ import annotations

import io
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from PIL import Image
from pypdf import PdfReader

from db.models import Tenant
from domain.analytics.cash import CashPoint, Interval
from domain.analytics.credit_usage import (
    CreditsBought,
    CreditsDay,
    CreditsPoint,
    CreditsUsage,
    ModuleConsumed,
    TopConsumer,
)
from domain.analytics.mrr import CohortRow, Kind, Point
from domain.analytics.revenue import CustomersOverview
from domain.analytics.royalties_owed import RoyaltiesOwed
from domain.analytics.usage_metrics import MetricPoint, MetricUsage
from domain.money import format_money
from domain.reports.kpi_chart import COLORS, Bar, bars_of, mrr_chart, nice_step
from domain.reports.kpi_i18n import label
from domain.reports.kpi_report import kpi_pdf, kpi_report_file, render_kpi_html
from domain.reports.kpis import CurrencyKpis, Month, MonthlyKpis
from tests.domain.reports.kpi_book import kpi_book

LANGUAGES = ("en", "fr", "de", "es", "ar")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- the chart --------------------------------------------------------------------------


def test_the_chart_draws_gains_above_the_axis_and_losses_below() -> None:
    # Two months: 3000 new, then 1000 churned. Left axis: 3000 up to 1000 down (steps of
    # 1000), the axis at 3/4 of the plot; each bar in the middle of its half.
    png = mrr_chart([Bar("01/26", (3000, 0, 0), (0, 0), 0), Bar("02/26", (0, 0, 0), (0, 1000), 0)])
    image = Image.open(io.BytesIO(png))
    assert (image.format, image.size, image.mode) == ("PNG", (1200, 520), "RGB")
    colors = {color for _, color in image.getcolors(maxcolors=1_000_000)}
    assert {COLORS[Kind.NEW], COLORS[Kind.CHURN], COLORS["mrr"]} <= colors
    assert COLORS[Kind.EXPANSION] not in colors  # nothing expanded
    assert image.getpixel((355, 300)) == COLORS[Kind.NEW]  # above the axis (y 360)
    assert image.getpixel((845, 400)) == COLORS[Kind.CHURN]  # below it
    assert image.getpixel((355, 400)) != COLORS[Kind.NEW]


def test_a_chart_of_quiet_months_and_its_inputs() -> None:
    quiet = Image.open(io.BytesIO(mrr_chart([Bar("01/26", (0, 0, 0), (0, 0), 0)] * 12)))
    assert quiet.size == (1200, 520) and len(quiet.getcolors(maxcolors=1_000_000)) > 2
    small = Image.open(
        io.BytesIO(mrr_chart([Bar("x", (1, 0, 0), (0, 0), 5)], width=300, height=150))
    )
    assert small.size == (300, 150)
    with pytest.raises(ValueError):
        mrr_chart([])
    assert [nice_step(n) for n in (0, 3, 4000, 9000, 123456)] == [1, 1, 1000, 5000, 50000]
    point = Point(
        utc(2026, 2, 1), utc(2026, 3, 1), "EUR", 2000, 4000, {Kind.NEW: 3000, Kind.CHURN: 1000}
    )
    assert bars_of([point]) == [Bar("02/26", (3000, 0, 0), (0, 1000), 4000)]


# -- a month with every family, in five languages ---------------------------------------


def _month() -> MonthlyKpis:
    start, end = utc(2026, 11, 1), utc(2026, 12, 1)
    first = Month(2026, 11).plus(-11)
    series = [
        Point(first.plus(i).start, first.plus(i).end, "EUR", 100000, 100000) for i in range(11)
    ]
    month = Point(
        start,
        end,
        "EUR",
        100000,
        123456,
        {Kind.NEW: 30000, Kind.EXPANSION: 4000, Kind.CONTRACTION: 544, Kind.CHURN: 10000},
        10,
        12,
        3,
        1,
    )
    overview = CustomersOverview(
        "EUR", start, end, 100000, 123456, 10, 12, 3, 1, 0,
        Decimal("0.1000"), Decimal("0.1054"), Decimal("0.9350"), Decimal("0.8946"),
        Decimal("10288.00"), Decimal("0.1054"), Decimal("97609.11"), 4, 3,
    )  # fmt: skip
    eur = CurrencyKpis(
        currency="EUR",
        mrr=month,
        customers=overview,
        cash=CashPoint(start, end, "EUR", 777700, 654321, 12300, 9, 1, 2, 1),
        receivables=(
            ("current", 50000),
            ("1-30", 25000),
            ("31-60", 0),
            ("61-90", 0),
            ("90+", 8800),
        ),
        series=(*series, month),
        cohorts=(CohortRow("2026-10", 4, (4, 3), (40000, 30000)),),
    )
    credits = CreditsUsage(
        start=start,
        end=end,
        interval=Interval.MONTH,
        points=(CreditsPoint(start, end, (ModuleConsumed("legal", 4321, 10),)),),
        days=(CreditsDay(date(2026, 11, 1), 4321),),
        top_consumers=(TopConsumer("cus_top", "Zora Books", 4000),),
        allowance=5000,
        granted=600,
        purchased=7000,
        expired=80,
        bought=(CreditsBought("EUR", 2, 7000, 5000, 6000),),
    )
    usage = MetricUsage(
        "bm_1",
        "api_calls",
        "API calls",
        "COUNT",
        None,
        False,
        (MetricPoint(start, end, 98765, None),),
    )
    owed = RoyaltiesOwed("EUR", 24500, 4500, 20000, 2, 3300, 0, 1000, 700, 3, 2, 1, 0, 1)
    return MonthlyKpis(1, "2026-11", start, end, end, True, (eur,), credits, (usage,), (owed,))


def _text(pdf: bytes) -> str:
    """The PDF's words, with the spacing and direction marks a reader may add or drop
    taken out, and Arabic's presentation forms folded back to letters."""
    reader = PdfReader(io.BytesIO(pdf))
    return _plain(" ".join(page.extract_text() for page in reader.pages))


def _plain(value: str) -> str:
    value = unicodedata.normalize("NFKC", value)
    for mark in ("\u200e", "\u200f", "\u00a0", "\u202f", " "):
        value = value.replace(mark, "")
    return value


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_family_in_every_language(lang: str) -> None:
    kpis = _month()
    pdf = kpi_pdf(kpis, tenant="Acme Books", locale=lang)
    assert pdf.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(pdf))
    images = [image for page in reader.pages for image in page.images]
    assert [i.image.size for i in images] == [(1200, 520)]  # the chart, one per currency
    text = _text(pdf)
    assert "AcmeBooks" in text
    if lang == "ar":  # right to left: the words come out in visual order; the digits not
        figures = ["1,234.56", "6,543.21", "88.00", "43.21", "98,765", "245.00", "89.46"]
        assert all(f in text for f in figures), [f for f in figures if f not in text]
        assert "dir='rtl'" in render_kpi_html(kpis, tenant="Acme", locale=lang)
        return
    expected = [
        label("title", lang),
        label("recurring", lang),
        label("cohorts", lang),
        label("credits", lang),
        label("usage", lang),
        format_money(123456, "EUR", lang),  # MRR at the end
        format_money(1481472, "EUR", lang),  # ARR
        format_money(654321, "EUR", lang),  # collected
        format_money(8800, "EUR", lang),  # over 90 days overdue
        format_money(24500, "EUR", lang),  # royalties payable
        format_money(10288, "EUR", lang),  # ARPA
        "Zora Books",
        "API calls",
    ]
    missing = [e for e in expected if _plain(e) not in text]
    assert not missing, missing
    assert "dir='ltr'" in render_kpi_html(kpis, tenant="Acme", locale=lang)


def test_a_month_without_figures_says_so() -> None:
    kpis = _month()
    empty = MonthlyKpis(
        1, "2026-11", kpis.start, kpis.end, utc(2026, 11, 20), False, (), kpis.credits, (), ()
    )
    html = render_kpi_html(empty, tenant="<Acme & Co>", locale="fr")
    assert label("nothing", "fr") in html and "&lt;Acme &amp; Co&gt;" in html
    assert "20 nov. 2026" in html  # in progress: figures up to today


# -- the file of a real book -------------------------------------------------------------


async def test_the_report_file_in_the_tenants_language(db: str) -> None:
    book = await kpi_book()
    body, content_type, name = await kpi_report_file(book.admin, "2026-02")
    assert (content_type, name) == ("application/pdf", "kpi-report-2026-02.pdf")
    assert "€40.00" in _text(body) and "€480.00" in _text(body)
    await Tenant.filter(id=book.tenant.id).update(default_locale="de")
    body, _, _ = await kpi_report_file(book.admin, "2026-02")
    assert _plain(format_money(4000, "EUR", "de")) in _text(body)
    assert _plain(label("title", "de")) in _text(body)
