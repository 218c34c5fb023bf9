"""Royalty statements as documents: HTML and PDF in the payee's language, CSV for
spreadsheets and accounting tools, all rendered from the statement's stored
`document` (the royalty run writes every figure it shows, so a document rendered
today says what was computed then, whatever has changed since).

The PDF is the invoice's machinery (`domain.invoicing.pdf`): xhtml2pdf allowed to
read nothing but the DejaVu Sans font that ships with the project, which covers the
currency signs and Arabic; Arabic is laid out right to left.

CSV (`statement_csv`): one row per statement line, then returns, adjustments,
conversions and the summary, under one stable header (`CSV_COLUMNS`). Amounts are
decimal strings in the row's own currency column:

    section     line | return | adjustment | conversion | summary
    basis       a line's basis, in `sourceCurrency` (the sale's)
    sourceAmount  a line's earnings in the sale's currency; a conversion's from amount
    amount      a line's or return's share in the payout currency; an adjustment in
                its own currency; a conversion's to amount; a summary figure
    kind        the transaction type, or for a summary row the figure's name
    escalatorTier  counted from 1, as the HTML shows it

Line rows sum to the `earnings` summary row, return rows to `returns`, and
closing = opening + earnings - returns - reserveWithheld + reserveReleased -
recouped - payable.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterable
from html import escape
from typing import Any, Literal

from domain.errors import ValidationError
from domain.invoicing.i18n import RTL, language, number_text, percent_text
from domain.invoicing.pdf import FONTS, render_pdf
from domain.money import decimal_string, format_money
from domain.royalties.queries import load_statement
from domain.royalties.statement_i18n import (
    kind_label,
    label,
    period_text,
    status_label,
    tier_label,
)
from domain.tenancy.access import Principal

Format = Literal["pdf", "csv"]
DASH = "—"
LRM = "\u200e"  # left-to-right mark


def _ltr(text: str) -> str:
    """Codes and rate equations read left to right inside Arabic too: without the
    marks the bidi algorithm turns "1 USD = 0.92 EUR" into "USD = 0.92 EUR 1"."""
    return f"{LRM}{text}{LRM}"


_CSS = """
@font-face {{ font-family: DejaVu; src: url("{regular}"); }}
@font-face {{ font-family: DejaVu; src: url("{bold}"); font-weight: bold; }}
@page {{ size: a4; margin: 1.6cm; }}
body {{ font-family: DejaVu; font-size: 9pt; color: #222; }}
h1 {{ font-size: 17pt; margin: 0 0 4pt 0; }}
h2 {{ font-size: 11pt; margin: 12pt 0 3pt 0; }}
table {{ width: 100%; }}
td, th {{ padding: 2pt 3pt; vertical-align: top; }}
th {{ border-bottom: 1px solid #888; text-align: {start}; font-size: 8pt; }}
.num {{ text-align: {end}; }}
.grid td {{ border-bottom: 0.5px solid #ddd; font-size: 8pt; }}
.strong {{ font-weight: bold; }}
.small {{ font-size: 7.5pt; color: #444; }}
.note {{ font-size: 8.5pt; margin-top: 10pt; }}
"""


def _work(item: dict[str, Any]) -> str:
    """A work as the statement names it: its title, its code in small print."""
    if not item.get("work"):
        return DASH
    title = escape(item.get("workTitle") or "")
    code = _ltr(escape(item.get("workCode") or item["work"]))
    return f"{title}<br/><span class='small'>{code}</span>" if title else code


def _table(
    headers: list[tuple[str, bool]], rows: Iterable[list[str]], widths: tuple[int, ...] = ()
) -> str:
    """A grid: (header, numeric) columns and their widths in percent (xhtml2pdf
    shares the page evenly otherwise); cells are HTML already escaped."""
    sizes = [f" width='{w}%'" for w in widths] or [""] * len(headers)
    head = "".join(
        f"<th class='num'{size}>{escape(h)}</th>" if num else f"<th{size}>{escape(h)}</th>"
        for (h, num), size in zip(headers, sizes, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{cell}</td>" if num else f"<td>{cell}</td>"
            for cell, (_, num) in zip(row, headers, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table class='grid'><tr>{head}</tr>{body}</table>"


def _section(title: str, content: str) -> str:
    return f"<h2>{escape(title)}</h2>{content}"


def _summary(doc: dict[str, Any], lang: str) -> str:
    """The period's movements in order, deductions negative, so each subtotal is the
    sum of the rows above it: the balance (opening + earnings - returns - withheld +
    released - recouped, which the run split into payable + closing), then what is
    paid and what is carried forward."""
    rows = (
        ("opening", doc["openingMinor"]),
        ("earnings", doc["earningsMinor"]),
        ("returns", -doc["returnsMinor"]),
        ("reserve_withheld", -doc["reserveWithheldMinor"]),
        ("reserve_released", doc["reserveReleasedMinor"]),
        ("recouped", -doc["recoupedMinor"]),
        ("balance", doc["payableMinor"] + doc["closingMinor"]),
        ("payable", doc["payableMinor"]),
        ("carried", doc["closingMinor"]),
        ("advance_remaining", doc["advanceRemainingMinor"]),
    )
    body = "".join(
        f"<tr{' class=strong' if key in ('balance', 'payable', 'carried') else ''}>"
        f"<td>{escape(label(key, lang))}</td>"
        f"<td class='num'>{escape(format_money(minor, doc['currency'], lang))}</td></tr>"
        for key, minor in rows
    )
    return f"<table class='grid'>{body}</table>"


def _outcome(doc: dict[str, Any], lang: str) -> str:
    outcome = doc.get("outcome") or ("PAYABLE" if doc["payableMinor"] > 0 else "CARRIED")
    amount = format_money(doc["payableMinor"], doc["currency"], lang)
    return label(f"outcome_{outcome}", lang, amount=amount)


def _parties(doc: dict[str, Any], lang: str) -> str:
    tenant, payee = doc.get("tenant") or {}, doc.get("payee") or {}
    issuer = [f"<b>{escape(label('issuer', lang))}</b>"]
    issuer.append(escape(tenant.get("legalName") or tenant.get("name") or ""))
    issuer += [escape(line) for line in tenant.get("address") or [] if line]
    if tenant.get("country"):
        issuer.append(escape(tenant["country"]))
    to = [f"<b>{escape(label('payee', lang))}</b>", escape(payee.get("name") or "")]
    if payee.get("email"):
        to.append(f"{escape(label('email', lang))}: {escape(payee['email'])}")
    if payee.get("taxId"):
        to.append(f"{escape(label('tax_id', lang))}: {escape(payee['taxId'])}")
    if payee.get("agent"):
        to.append(escape(label("agent", lang, name=payee["agent"])))
    return (
        f"<table><tr><td width='50%'>{'<br/>'.join(to)}</td>"
        f"<td>{'<br/>'.join(issuer)}</td></tr></table>"
    )


def _headers(lang: str, *keys: str) -> list[tuple[str, bool]]:
    """Column headers: a key ending in "#" is a numeric column (aligned to the end)."""
    return [(label(k.rstrip("#"), lang), k.endswith("#")) for k in keys]


def render_statement_html(
    document: dict[str, Any], *, status: str | None = None, reference: str | None = None
) -> str:
    """The statement page in the payee's language. `status` (draft, approved, paid,
    carried) and `reference` (the statement's id) are the row's, not the document's:
    the document is frozen when the run writes it, the status moves on."""
    doc = document
    lang = language((doc.get("payee") or {}).get("language"))
    rtl = lang in RTL
    start, end = ("right", "left") if rtl else ("left", "right")
    css = _CSS.format(
        regular=(FONTS / "DejaVuSans.ttf").as_posix(),
        bold=(FONTS / "DejaVuSans-Bold.ttf").as_posix(),
        start=start,
        end=end,
    )
    currency = doc["currency"]

    def money(minor: int, code: str = currency) -> str:
        return escape(format_money(minor, code, lang))

    def kind(item: dict[str, Any]) -> str:
        return escape(kind_label(item["kind"], lang))

    meta = [(label("period", lang), period_text(doc["period"], lang))]
    if reference:
        meta.append((label("reference", lang), reference))
    if status:
        meta.append((label("status", lang), status_label(status, lang)))
    meta_rows = "".join(
        f"<tr><td>{escape(k)}</td><td class='strong'>{escape(v)}</td></tr>" for k, v in meta
    )
    parts = [
        f"<h1>{escape(label('title', lang))}</h1>",
        f"<table>{meta_rows}</table>",
        _parties(doc, lang),
        f"<p class='small'>{escape(label('amounts_in', lang, currency=currency))}</p>",
        _section(label("summary", lang), _summary(doc, lang)),
        f"<p class='note strong'>{escape(_outcome(doc, lang))}</p>",
    ]
    by_work = _headers(lang, "work", "type", "amount#")
    sections: list[tuple[str, list[tuple[str, bool]], list[list[str]], tuple[int, ...]]] = [
        (
            "earnings_by_work",
            by_work,
            [[_work(e), kind(e), money(e["amountMinor"])] for e in doc.get("earnings") or []],
            (45, 35, 20),
        ),
        (
            "details",
            _headers(
                lang, "work", "type", "tier", "rate#", "units#", "basis#", "earned#", "amount#"
            ),
            [
                [
                    _work(line),
                    kind(line),
                    escape(tier_label(line.get("tier"), lang)),
                    escape(percent_text(line.get("rate"), lang) or DASH),
                    escape(number_text(line["units"], lang)),
                    money(line["basisMinor"], line["currency"]),
                    money(line["earnedMinor"], line["currency"]),
                    money(line["amountMinor"]),
                ]
                for line in doc.get("lines") or []
            ],
            (21, 14, 9, 8, 9, 13, 13, 13),
        ),
        (
            "returns_by_work",
            by_work,
            [[_work(r), kind(r), money(r["amountMinor"])] for r in doc.get("returns") or []],
            (45, 35, 20),
        ),
        (
            "adjustments",
            _headers(lang, "reason", "work", "amount#"),
            [
                [
                    escape(a.get("reason") or ""),
                    _ltr(escape(a["work"])) if a.get("work") else DASH,
                    money(a["amountMinor"], a["currency"]),
                ]
                for a in doc.get("adjustments") or []
            ],
            (50, 30, 20),
        ),
        (
            "conversions",
            _headers(lang, "amount#", "exchange_rate#", "converted#"),
            [
                [
                    money(c["fromMinor"], c["fromCurrency"]),
                    _ltr(escape(f"1 {c['fromCurrency']} = {number_text(c['rate'], lang)}"))
                    + escape(f" {c['toCurrency']}"),
                    money(c["toMinor"], c["toCurrency"]),
                ]
                for c in doc.get("conversions") or []
            ],
            (30, 40, 30),
        ),
    ]
    for title, headers, rows, widths in sections:
        if rows:  # a section with nothing to show is left out
            parts.append(_section(label(title, lang), _table(headers, rows, widths)))
    direction = "rtl" if rtl else "ltr"
    return (
        f"<html lang='{lang}' dir='{direction}'><head><meta charset='utf-8'/>"
        f"<style>{css}</style></head><body dir='{direction}' align='{start}'>"
        f"{''.join(parts)}</body></html>"
    )


def statement_pdf(
    document: dict[str, Any], *, status: str | None = None, reference: str | None = None
) -> bytes:
    """CPU work (tens of ms): async callers run it in a worker thread."""
    return render_pdf(render_statement_html(document, status=status, reference=reference))


CSV_COLUMNS = tuple(
    "section period payee work workCode workTitle kind escalatorTier ratePercent units basis"
    " sourceAmount sourceCurrency exchangeRate amount currency note".split()
)
# What a spreadsheet would run as a formula (a work title starting with "="), quoted
# with a leading "'" as the usage exports do; numbers such as "-12.50" are left alone.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
# The summary rows, in the order of the statement, with the document's keys.
_SUMMARY = (
    ("opening", "openingMinor"),
    ("earnings", "earningsMinor"),
    ("returns", "returnsMinor"),
    ("reserveWithheld", "reserveWithheldMinor"),
    ("reserveReleased", "reserveReleasedMinor"),
    ("recouped", "recoupedMinor"),
    ("advanceRemaining", "advanceRemainingMinor"),
    ("payable", "payableMinor"),
    ("closing", "closingMinor"),
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    if text.startswith(_FORMULA):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def statement_csv(document: dict[str, Any], *, status: str | None = None) -> str:
    doc = document
    payout = doc["currency"]
    base = {"period": doc["period"], "payee": (doc.get("payee") or {}).get("id")}
    rows: list[dict[str, Any]] = []

    def add(section: str, item: dict[str, Any] | None = None, **cells: Any) -> None:
        named = {k: item.get(k) for k in ("work", "workCode", "workTitle")} if item else {}
        rows.append({**base, "section": section, **named, **cells})

    def amount(minor: int, currency: str = payout) -> dict[str, str]:
        return {"amount": decimal_string(minor, currency), "currency": currency}

    for line in doc.get("lines") or []:
        tier, sale = line.get("tier"), line["currency"]
        add(
            "line",
            line,
            kind=line["kind"],
            escalatorTier=None if tier is None else tier + 1,
            ratePercent=line.get("rate"),
            units=line["units"],
            basis=decimal_string(line["basisMinor"], sale),
            sourceAmount=decimal_string(line["earnedMinor"], sale),
            sourceCurrency=sale,
            **amount(line["amountMinor"]),
        )
    for item in doc.get("returns") or []:
        add("return", item, kind=item["kind"], **amount(item["amountMinor"]))
    for a in doc.get("adjustments") or []:
        cells = amount(a["amountMinor"], a["currency"])
        add("adjustment", work=a.get("work"), kind="ADJUSTMENT", note=a.get("reason"), **cells)
    for c in doc.get("conversions") or []:
        add(
            "conversion",
            sourceAmount=decimal_string(c["fromMinor"], c["fromCurrency"]),
            sourceCurrency=c["fromCurrency"],
            exchangeRate=c["rate"],
            **amount(c["toMinor"], c["toCurrency"]),
        )
    for name, key in _SUMMARY:
        add("summary", kind=name, **amount(doc[key]))
    add("summary", kind="outcome", note=doc.get("outcome"))
    if status:
        add("summary", kind="status", note=status)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows([_cell(row.get(column)) for column in CSV_COLUMNS] for row in rows)
    return out.getvalue()


async def statement_file(
    principal: Principal, statement_id: str, fmt: Format
) -> tuple[bytes, str, str]:
    """(content, content type, file name) of a statement the caller may read."""
    if fmt not in ("pdf", "csv"):
        raise ValidationError(
            f"statements are rendered as pdf or csv, not {str(fmt)[:20]!r}",
            field="format",
            code="INVALID_FORMAT",
        )
    # Scoped to the tenant, and for a payee token to its own payee: another payee's
    # statement reads as missing, not as forbidden.
    statement = await load_statement(principal, statement_id)
    name = f"royalty-statement-{statement.period}-{statement.public_id}.{fmt}"
    if fmt == "csv":
        text = statement_csv(statement.document, status=statement.status)
        return text.encode("utf-8"), "text/csv; charset=utf-8", name
    pdf = await asyncio.to_thread(
        statement_pdf, statement.document, status=statement.status, reference=statement.public_id
    )
    return pdf, "application/pdf", name
