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
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

from babel.numbers import format_currency, format_decimal, get_currency_symbol
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy

from domain.invoicing.i18n import (
    RTL,
    date_text,
    label,
    language,
    line_label,
    number_text,
    percent_text,
    reason_label,
)
from domain.money import bp_to_percent, exponent, format_money, round_minor

FONTS = Path(__file__).parent / "fonts"
DASH = "\u2013"  # the en dash of a date range
TIMES = "\u00d7"  # quantity times unit price
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


def font_faces() -> str:
    """The stylesheet rules every PDF starts with: the DejaVu Sans that ships with the
    project (regular and bold), named `DejaVu`; the only files the renderer may read."""
    regular = (FONTS / "DejaVuSans.ttf").as_posix()
    bold = (FONTS / "DejaVuSans-Bold.ttf").as_posix()
    return (
        f'@font-face {{ font-family: DejaVu; src: url("{regular}"); }}\n'
        f'@font-face {{ font-family: DejaVu; src: url("{bold}"); font-weight: bold; }}\n'
    )


_CSS = """
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
.small {{ font-size: 7.5pt; color: #444; }}
"""


def render_html(doc: Document) -> str:
    loc = language(doc.locale)
    rtl = loc in RTL
    start, end = ("right", "left") if rtl else ("left", "right")
    css = font_faces() + _CSS.format(start=start, end=end)
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
    line_rows = "".join(_line_row(doc, line, loc) for line in doc.lines)
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


def _line_row(doc: Document, line: dict[str, Any], loc: str) -> str:
    """One line: its description, then small print (its dates, a usage line's
    quantity and breakdown), its quantity, unit price and amount."""
    notes = []
    if line.get("period_start") and line.get("period_end"):
        notes.append(
            f"{date_text(line['period_start'], loc)} {DASH} {date_text(line['period_end'], loc)}"
        )
    notes += _usage_notes(doc, line, loc)
    small = "".join(f"<br/><span class='small'>{escape(n)}</span>" for n in notes)
    return (
        "<tr>"
        f"<td>{escape(line_label(line['kind'], line['description'], loc, line.get('details')))}"
        f"{small}</td>"
        f"<td class='num'>{escape(format_decimal(line['quantity'], locale=loc))}</td>"
        f"<td class='num'>{escape(_money(doc, line['unit_amount_minor']))}</td>"
        f"<td class='num'>{escape(_money(doc, line['amount_minor']))}</td>"
        "</tr>"
    )


def _price(doc: Document, value: Any) -> str:
    """A price or an exact amount in major units with every decimal it has (0.0001
    EUR is "€0.0001", never rounded to cents), at least the currency's own ones."""
    number = Decimal(str(value))
    exp = exponent(doc.currency)
    minor = number.scaleb(exp)
    if minor == minor.to_integral_value():
        return _money(doc, int(minor))
    loc = language(doc.locale)
    text = format_currency(number, doc.currency, locale=loc, decimal_quantization=False)
    # CLDR currency spacing, as `format_money` applies it: "KWD 0.0001", not "KWD0.0001".
    symbol = get_currency_symbol(doc.currency, loc)
    at = text.find(symbol) + len(symbol)
    if symbol[-1:].isalpha() and symbol in text and at < len(text) and text[at].isdigit():
        text = text[:at] + "\u00a0" + text[at:]
    return text


def _signed(text: str) -> str:
    """A difference with its sign: Babel writes the minus, the plus goes where it
    would (after any direction mark, as in Arabic)."""
    body = text.lstrip("\u200e\u200f")
    marks = text[: len(text) - len(body)]
    return text if body.startswith(("-", "\u2212")) else f"{marks}+{body}"


def _tier_range(tier: dict[str, Any], counted: bool, loc: str) -> str:
    """Units counted one by one read "1 to 1,000", "1,001 and above"; a fractional
    quantity (GB) reads the bounds as they are ("0 to 10", "10 and above")."""
    low = Decimal(str(tier["from"]))
    low_text = number_text(low + 1 if counted and low == low.to_integral_value() else low, loc)
    if tier.get("to") is None:
        return label("tier_from", loc, low=low_text)
    return f"{low_text}{DASH}{number_text(tier['to'], loc)}"


def _usage_notes(doc: Document, line: dict[str, Any], loc: str) -> list[str]:
    """What a usage line shows under its description: the exact quantity and unit
    price, one row per tier and per dimension group, then what takes the exact sum
    to the line's amount (the one rounding, what earlier invoices billed)."""
    details = line.get("details") or {}
    term = details.get("term")
    if term == "usage_minimum":
        return [label("commitment", loc, amount=_money(doc, int(details["minimumMinor"])))]
    if term == "sla_credit":
        return [label("sla_share", loc, percent=percent_text(details.get("percent"), loc) or "")]
    if term or "units" not in details:
        return []
    metric = details.get("metric") or ""
    units = Decimal(str(details["units"]))
    quantity = f"{number_text(units, loc)} {metric}".strip()
    tiers = details.get("tiers") or []
    whole = int(details.get("amountMinor", line["amount_minor"]))
    exact: Decimal | None = None
    if details.get("unitPrice") is not None:
        quantity += f" {TIMES} {_price(doc, details['unitPrice'])}"
        product = units * Decimal(str(details["unitPrice"]))
        if not tiers and round_minor(product.scaleb(exponent(doc.currency))) == whole:
            exact = product  # free units would break the product: then it is not shown
            quantity += f" = {_price(doc, product)}"
    notes = [quantity]
    counted = units == units.to_integral_value()
    for tier in tiers:
        notes.append(
            label(
                "tier",
                loc,
                range=_tier_range(tier, counted, loc),
                units=number_text(tier["units"], loc),
                price=_price(doc, tier["unitPrice"]),
                fee=_price(doc, tier.get("flatFee") or 0),
                amount=_price(doc, tier["amount"]),
            )
        )
    if tiers:
        exact = sum((Decimal(str(t["amount"])) for t in tiers), Decimal(0))
    if exact is not None and (off := Decimal(whole).scaleb(-exponent(doc.currency)) - exact):
        notes.append(label("rounding", loc, amount=_signed(_price(doc, off))))
    for group in details.get("groups") or []:
        name = ", ".join(f"{k} {v}" for k, v in (group.get("group") or {}).items())
        used = f"{number_text(group['units'], loc)} {metric}".strip()
        notes.append(f"{name}: {used} ({_money(doc, int(group['amountMinor']))})")
    if before := whole - line["amount_minor"]:
        notes.append(label("billed_before", loc, amount=_money(doc, -before)))
    return notes


def _tax_rows(doc: Document, loc: str) -> str:
    rows = ""
    for tax in doc.taxes:
        rate = format_decimal(bp_to_percent(tax["rate_bp"]), locale=loc)
        text = label("tax", loc, name=tax.get("name") or "", rate=rate).strip()
        on = label("tax_on", loc, amount=_money(doc, tax["taxable_minor"]))
        rows += (
            f"<tr><td>{escape(text)} <span class='small'>({escape(on)})</span></td>"
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
