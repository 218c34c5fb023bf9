"""The monthly KPI report as a PDF, in the tenant's language (Arabic right to left).

`render_kpi_html` builds the page from `MonthlyKpis` (pure, testable text) and
`kpi_pdf` turns it into PDF with the invoices' machinery (`domain.invoicing.pdf`:
xhtml2pdf allowed to read nothing but the shipped DejaVu Sans). The MRR movements
chart is a PNG drawn by `kpi_chart` and embedded as a `data:` URI, which that
resource policy accepts (a `data:` image is part of the document, not a file read).

Per currency: the chart and its legend, the month's recurring revenue, customers,
cash and receivables, the last 12 months of MRR and the cohorts; then the tenant's
credits, usage and royalties owed. A section with nothing to show is left out.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Iterable
from decimal import Decimal
from html import escape

from babel.numbers import format_decimal

from db.models import Tenant
from domain.invoicing.i18n import RTL
from domain.invoicing.pdf import font_faces, render_pdf
from domain.money import exponent
from domain.reports import kpi_text as text
from domain.reports.kpi_chart import COLORS, DOWN, UP, bars_of, mrr_chart
from domain.reports.kpi_text import LRM, Figures, Pairs, Table
from domain.reports.kpis import CurrencyKpis, MonthlyKpis, monthly_kpis
from domain.tenancy.access import Principal

CHART_SIZE = (1200, 520)  # pixels; shown 500 points wide

_CSS = """
@page {{ size: a4; margin: 1.5cm; }}
body {{ font-family: DejaVu; font-size: 8.5pt; color: #222; }}
h1 {{ font-size: 17pt; margin: 0 0 4pt 0; }}
h2 {{ font-size: 13pt; margin: 14pt 0 4pt 0; border-bottom: 1px solid #888; }}
h3 {{ font-size: 10pt; margin: 8pt 0 2pt 0; }}
table {{ width: 100%; }}
td, th {{ padding: 1.5pt 3pt; vertical-align: top; }}
th {{ border-bottom: 1px solid #888; text-align: {start}; font-size: 7.5pt; }}
.num {{ text-align: {end}; }}
.grid td {{ border-bottom: 0.5px solid #ddd; }}
.strong {{ font-weight: bold; }}
.small {{ font-size: 7.5pt; color: #444; }}
.next {{ page-break-before: always; }}
"""


def _pairs(rows: Pairs, strong: Iterable[str] = ()) -> str:
    """A two-column grid: a label, a value aligned to the end."""
    bold = set(strong)
    body = "".join(
        f"<tr{' class=strong' if name in bold else ''}><td>{escape(name)}</td>"
        f"<td class='num'>{escape(value)}</td></tr>"
        for name, value in rows
    )
    return f"<table class='grid'>{body}</table>"


def _grid(table: Table) -> str:
    headers, rows = table
    head = "".join(
        f"<th class='num'>{escape(h)}</th>" if num else f"<th>{escape(h)}</th>"
        for h, num in headers
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{escape(cell)}</td>" if num else f"<td>{escape(cell)}</td>"
            for cell, (_, num) in zip(row, headers, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table class='grid'><tr>{head}</tr>{body}</table>"


def _section(title: str, content: str, level: int = 3) -> str:
    return f"<h{level}>{escape(title)}</h{level}>{content}" if content else ""


def _side_by_side(first: str, second: str) -> str:
    return f"<table><tr><td width='50%'>{first}</td><td width='50%'>{second}</td></tr></table>"


def _hex(color: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


def _axis(currency: str, lang: str) -> Callable[[int], str]:
    """Axis figures in major units, as the language writes numbers."""
    exp = exponent(currency)
    return lambda minor: format_decimal(Decimal(minor).scaleb(-exp), locale=lang)


def chart_html(c: CurrencyKpis, f: Figures) -> str:
    """The MRR movements chart (a PNG as a data: URI) and its legend."""
    png = mrr_chart(
        bars_of(c.series),
        width=CHART_SIZE[0],
        height=CHART_SIZE[1],
        figure=_axis(c.currency, f.lang),
    )
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    height = round(500 * CHART_SIZE[1] / CHART_SIZE[0])
    legend = " &nbsp; ".join(
        f"<span style='color: {_hex(COLORS[k])}'>&#9632;</span> {escape(f.t(k.value))}"
        for k in (*UP, *DOWN)
    )
    legend += f" &nbsp; <span style='color: {_hex(COLORS['mrr'])}'>&#9679;</span> "
    return _section(
        f.t("chart"),
        f"<img src='{uri}' width='500' height='{height}'/>"
        f"<p class='small'>{legend}{escape(f.t('mrr_line'))}</p>",
    )


def _currency(c: CurrencyKpis, kpis: MonthlyKpis, f: Figures, first: bool) -> str:
    strong = f.strong()
    customers = text.customers(c, f)
    parts = [
        f"<h2{'' if first else ' class=next'}>{LRM}{escape(c.currency)}{LRM}</h2>",
        chart_html(c, f),
        _side_by_side(
            _section(f.t("recurring"), _pairs(text.recurring(c, f), strong)),
            _section(f.t("customers"), _pairs(customers) if customers else ""),
        ),
        _side_by_side(
            _section(f.t("cash"), _pairs(text.cash(c, f), strong)),
            _section(f.t("receivables", date=f.day(kpis)), _pairs(text.receivables(c, f), strong)),
        ),
        _section(f.t("history"), _grid(text.history(c, f))),
    ]
    if c.cohorts:
        parts.append(_section(f.t("cohorts"), _grid(text.cohorts(c, f))))
    return "".join(parts)


def _tenant_wide(kpis: MonthlyKpis, f: Figures) -> str:
    parts = []
    flows = text.credit_flows(kpis, f)
    if flows:
        credits = _side_by_side(_pairs(flows), _grid(text.credit_modules(kpis, f)))
        parts.append(_section(f.t("credits"), credits, level=2))
        if kpis.credits.top_consumers:
            parts.append(_section(f.t("top_consumers"), _grid(text.top_consumers(kpis, f))))
        if kpis.credits.bought:
            parts.append(_section(f.t("top_ups"), _grid(text.top_ups(kpis, f))))
    if kpis.usage:
        parts.append(_section(f.t("usage"), _grid(text.usage(kpis, f)), level=2))
    if kpis.royalties:
        title = f.t("royalties", date=f.day(kpis))
        parts.append(_section(title, _grid(text.royalties(kpis, f)), level=2))
    return "".join(parts)


def render_kpi_html(kpis: MonthlyKpis, *, tenant: str, locale: str | None) -> str:
    """The report's page in `locale`'s language (English when unsupported)."""
    f = Figures(locale)
    rtl = f.lang in RTL
    start, end = ("right", "left") if rtl else ("left", "right")
    css = font_faces() + _CSS.format(start=start, end=end)
    parts = [
        f"<h1>{escape(f.t('title'))}</h1>",
        f"<p class='strong'>{escape(tenant)} · {escape(f.month(kpis.month))}</p>",
    ]
    if not kpis.complete:
        parts.append(f"<p>{escape(f.t('in_progress', date=f.day(kpis)))}</p>")
    parts.append(f"<p class='small'>{escape(f.t('each_currency'))}</p>")
    if not kpis.currencies:
        parts.append(f"<p>{escape(f.t('nothing'))}</p>")
    parts += [_currency(c, kpis, f, i == 0) for i, c in enumerate(kpis.currencies)]
    parts.append(_tenant_wide(kpis, f))
    direction = "rtl" if rtl else "ltr"
    return (
        f"<html lang='{f.lang}' dir='{direction}'><head><meta charset='utf-8'/>"
        f"<style>{css}</style></head><body dir='{direction}' align='{start}'>"
        f"{''.join(parts)}</body></html>"
    )


def kpi_pdf(kpis: MonthlyKpis, *, tenant: str, locale: str | None) -> bytes:
    """CPU work (a chart per currency, then the PDF): async callers use a thread."""
    return render_pdf(render_kpi_html(kpis, tenant=tenant, locale=locale))


def file_name(month: str) -> str:
    return f"kpi-report-{month}.pdf"


async def kpi_report_file(principal: Principal, month: str) -> tuple[bytes, str, str]:
    """(PDF, content type, file name) of `month`'s report for the caller's tenant, in
    the tenant's language."""
    kpis = await monthly_kpis(principal, month)
    tenant = await Tenant.get(id=principal.tenant_id)
    pdf = await asyncio.to_thread(kpi_pdf, kpis, tenant=tenant.name, locale=tenant.default_locale)
    return pdf, "application/pdf", file_name(kpis.month)
