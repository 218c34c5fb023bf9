"""One-page invoice PDF: Tally's `render_pdf(render_html(...))` against a bare
`pisa.CreatePDF` of the same HTML in the same run (interleaved, medians).

    make bench            (or: .venv/bin/python -m bench pdf)
"""

from __future__ import annotations

import io
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from xhtml2pdf import pisa

from domain.invoicing.pdf import Document, render_html, render_pdf

ROUNDS = 60


def sample(locale: str = "fr") -> Document:
    at = datetime(2026, 11, 22, tzinfo=UTC)
    return Document(
        kind="invoice",
        number="INV-2026-000123",
        status="open",
        locale=locale,
        currency="EUR",
        issued_at=at,
        due_at=datetime(2026, 12, 22, tzinfo=UTC),
        period_start=at,
        period_end=datetime(2026, 12, 22, tzinfo=UTC),
        seller={
            "legal_name": "Tally Demo SAS",
            "address": ["1 rue de la Paix", "75002 Paris"],
            "country": "FR",
            "vat_id": "FR40303265045",
        },
        customer={
            "name": "Jeanne Martin",
            "address": ["3 avenue Foch", "69006 Lyon"],
            "country": "FR",
        },
        lines=[
            {
                "kind": "plan",
                "description": "Premium",
                "quantity": 3,
                "unit_amount_minor": 2999,
                "amount_minor": 8997,
                "period_start": at,
                "period_end": datetime(2026, 12, 22, tzinfo=UTC),
            },
            {
                "kind": "add_on",
                "description": "Support",
                "quantity": 1,
                "unit_amount_minor": 900,
                "amount_minor": 900,
            },
            {
                "kind": "proration_credit",
                "description": "Basic",
                "quantity": 1,
                "unit_amount_minor": -455,
                "amount_minor": -455,
            },
        ],
        totals=[("subtotal", 9442), ("total", 11330), ("amount_due", 11330)],
        taxes=[{"rate_bp": 2000, "name": "TVA", "taxable_minor": 9442, "tax_minor": 1888}],
    )


async def run() -> dict[str, Any]:
    html = render_html(sample())

    def ours() -> bytes:
        return render_pdf(render_html(sample()))

    def bare() -> bytes:
        out = io.BytesIO()
        pisa.CreatePDF(html, dest=out, encoding="utf-8")
        return out.getvalue()

    assert bare().startswith(b"%PDF-") and ours().startswith(b"%PDF-")
    tally, baseline = [], []
    for _ in range(ROUNDS):
        for call, times in ((ours, tally), (bare, baseline)):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
    ours_ms = statistics.median(tally) * 1000
    bare_ms = statistics.median(baseline) * 1000
    return {
        "benchmark": f"one-page invoice PDF (fr), median of {ROUNDS} interleaved renders",
        "tally_ms": round(ours_ms, 1),
        "bare_pisa_ms": round(bare_ms, 1),
        "ratio": round(ours_ms / bare_ms, 2),
        "pages_per_second": round(1000 / ours_ms, 1),
    }
