"""Invoice and credit note documents: `render_html` builds the page (pure, testable
text), `render_pdf` turns it into PDF with xhtml2pdf.

Words come from `i18n`, numbers, dates and money from Babel, in the customer's
language; Arabic is laid out right to left. The DejaVu Sans font ships with the
project (it covers Latin, Arabic and the currency signs), and the renderer may
read nothing but that font directory: no network, no other file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy

from domain.invoicing.i18n import RTL, date_text, label, language, line_label, reason_label
from domain.money import bp_to_percent, format_money

FONTS = Path(__file__).parent / "fonts"
DASH = "\u2013"  # the en dash of a date range
POLICY = ResourceAccessPolicy(allow_remote=False, base_dir=str(FONTS))


@dataclass
class Document:
    """Everything a page shows, already read from the database."""

    kind: str  # invoice | credit_note
    number: str | None
    status: str
    locale: str
    currency: str
    issued_at: Any
    due_at: Any = None
    period_start: Any = None
    period_end: Any = None
    seller: dict[str, Any] = field(default_factory=dict)
    customer: dict[str, Any] = field(default_factory=dict)
    lines: list[dict[str, Any]] = field(default_factory=list)
    totals: list[tuple[str, int]] = field(default_factory=list)  # (label key or text, minor)
    taxes: list[dict[str, Any]] = field(default_factory=list)
    reverse_charge: bool = False
    not_taxed: bool = False
    memo: str = ""
    reference: str | None = None  # a credit note's invoice number
    reason: str | None = None


def _money(doc: Document, minor: int) -> str:
    return format_money(minor, doc.currency, language(doc.locale))


def _party(title: str, party: dict[str, Any], vat_key: str, locale: str) -> str:
    rows = [f"<b>{escape(title)}</b>", escape(party.get("legal_name") or party.get("name") or "")]
    rows += [escape(line) for line in party.get("address", []) if line]
    if party.get("country"):
        rows.append(escape(party["country"]))
    if party.get(vat_key):
        rows.append(f"{escape(label('vat_id', locale))}: {escape(party[vat_key])}")
    return "<br/>".join(rows)


_CSS = """
@font-face {{ font-family: DejaVu; src: url("{regular}"); }}
@font-face {{ font-family: DejaVu; src: url("{bold}"); font-weight: bold; }}
@page {{ size: a4; margin: 1.6cm; }}
body {{ font-family: DejaVu; font-size: 9.5pt; color: #222; }}
h1 {{ font-size: 18pt; margin: 0 0 4pt 0; }}
table {{ width: 100%; }}
td, th {{ padding: 3pt 4pt; vertical-align: top; }}
th {{ border-bottom: 1px solid #888; text-align: {start}; }}
.num {{ text-align: {end}; }}
.lines td {{ border-bottom: 0.5px solid #ddd; }}
.totals td {{ text-align: {end}; }}
.strong {{ font-weight: bold; }}
.note {{ font-size: 8.5pt; color: #444; margin-top: 10pt; }}
"""


def render_html(doc: Document) -> str:
    loc = language(doc.locale)
    rtl = loc in RTL
    start, end = ("right", "left") if rtl else ("left", "right")
    css = _CSS.format(
        regular=(FONTS / "DejaVuSans.ttf").as_posix(),
        bold=(FONTS / "DejaVuSans-Bold.ttf").as_posix(),
        start=start,
        end=end,
    )
    title = label(doc.kind, loc)
    meta = [
        (label("number", loc), doc.number or "—"),
        (label("issued", loc), date_text(doc.issued_at, loc)),
    ]
    if doc.due_at is not None:
        meta.append((label("due", loc), date_text(doc.due_at, loc)))
    if doc.period_start is not None and doc.period_end is not None:
        meta.append(
            (
                label("period", loc),
                f"{date_text(doc.period_start, loc)} {DASH} {date_text(doc.period_end, loc)}",
            )
        )
    if doc.reference:
        meta.append((label("credited_invoice", loc), doc.reference))
    if doc.reason:
        meta.append((label("reason", loc), reason_label(doc.reason, loc)))
    meta_rows = "".join(
        f"<tr><td>{escape(k)}</td><td class='strong'>{escape(v)}</td></tr>" for k, v in meta
    )
    line_rows = "".join(
        "<tr>"
        f"<td>{escape(line_label(line['kind'], line['description'], loc))}"
        + (
            f"<br/><font size='7.5'>{escape(date_text(line['period_start'], loc))} {DASH} "
            f"{escape(date_text(line['period_end'], loc))}</font>"
            if line.get("period_start") and line.get("period_end")
            else ""
        )
        + "</td>"
        f"<td class='num'>{escape(format_decimal(line['quantity'], locale=loc))}</td>"
        f"<td class='num'>{escape(_money(doc, line['unit_amount_minor']))}</td>"
        f"<td class='num'>{escape(_money(doc, line['amount_minor']))}</td>"
        "</tr>"
        for line in doc.lines
    )
    total_rows = ""
    for key, minor in doc.totals:
        if key == "total":
            total_rows += _tax_rows(doc, loc)
        strong = " class='strong'" if key in ("total", "amount_due") else ""
        total_rows += (
            f"<tr{strong}><td>{escape(label(key, loc))}</td>"
            f"<td>{escape(_money(doc, minor))}</td></tr>"
        )
    notes = []
    if doc.reverse_charge:
        notes.append(label("reverse_charge", loc))
    elif doc.not_taxed:
        notes.append(label("not_taxed", loc))
    if doc.status in ("paid", "void"):
        notes.append(label(f"status_{doc.status}", loc))
    if doc.memo:
        notes.append(doc.memo)
    note_html = "".join(f"<p class='note'>{escape(n)}</p>" for n in notes)
    direction = "rtl" if rtl else "ltr"
    return (
        f"<html lang='{loc}' dir='{direction}'><head><meta charset='utf-8'/>"
        f"<style>{css}</style></head><body dir='{direction}' align='{start}'>"
        f"<h1>{escape(title)}</h1>"
        f"<table><tr><td width='55%'><table>{meta_rows}</table></td>"
        f"<td>{_party(label('from', loc), doc.seller, 'vat_id', loc)}</td></tr></table>"
        f"<p>{_party(label('bill_to', loc), doc.customer, 'tax_id', loc)}</p>"
        "<table class='lines'><tr>"
        f"<th width='52%'>{escape(label('description', loc))}</th>"
        f"<th class='num' width='8%'>{escape(label('quantity', loc))}</th>"
        f"<th class='num' width='20%'>{escape(label('unit_price', loc))}</th>"
        f"<th class='num' width='20%'>{escape(label('amount', loc))}</th></tr>"
        f"{line_rows}</table>"
        f"<table class='totals'><tr><td width='45%'></td><td><table>{total_rows}</table></td></tr></table>"
        f"{note_html}</body></html>"
    )


def _tax_rows(doc: Document, loc: str) -> str:
    rows = ""
    for tax in doc.taxes:
        rate = format_decimal(bp_to_percent(tax["rate_bp"]), locale=loc)
        text = label("tax", loc, name=tax.get("name") or "", rate=rate).strip()
        on = label("tax_on", loc, amount=_money(doc, tax["taxable_minor"]))
        rows += (
            f"<tr><td>{escape(text)} <font size='7.5'>({escape(on)})</font></td>"
            f"<td>{escape(_money(doc, tax['tax_minor']))}</td></tr>"
        )
    return rows


class RenderError(RuntimeError):
    pass


def render_pdf(html: str) -> bytes:
    out = io.BytesIO()
    result = pisa.CreatePDF(html, dest=out, encoding="utf-8", resource_policy=POLICY)
    if result.err:
        raise RenderError(f"PDF rendering failed ({result.err} errors)")
    return out.getvalue()
