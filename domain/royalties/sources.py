"""Where a royalty period's facts come from: paid invoices, credit notes, reads and
adjustments, read set-based (a fixed handful of statements whatever the period's
size; sums are taken in SQL, only work-tagged lines come back row by row).

Rules (the figures themselves: domain/royalties/line_parts.py):

- SALE / LICENSE / USAGE facts: the work pieces of the lines of the tenant's invoices
  with status paid and `paid_at` in [start, end); `refunded_minor` is what the credit
  notes issued on the invoice before the period's end take from the piece.
- Returns: credit notes issued in the period on invoices paid BEFORE its start, one
  fact per (note, line, work) with a part above zero.
- collected_by_currency: the net (after discounts, without tax: inclusive tax taken
  out per invoice as the invoice computed it) of the lines that sell no work on
  subscription invoices paid in the period, minus the net of the credit notes on
  paid subscription invoices whose later of (issue, payment) falls in the period,
  work parts excluded on both sides. A note issued before its invoice was paid
  counts when the payment does, since the lines counted then were paid net of it.
- reads_by_work: `royalty_read` rows occurring in the period; usage events of the
  tenant's read metric (`RoyaltySettings.read_event_code`) timestamped in it whose
  properties name a work (`workId`), each counting 1, or its `reads` property when
  that is a whole number from 1 to 10^18 - 1; credit consumptions made in it whose
  metadata names a work, each counting its quantity (1 without one). Unknown works
  are skipped. A consumption refunded later still counts: the read happened.
- adjustments: the tenant's RoyaltyAdjustment rows of the period.

Times on SQLite are text in whatever offset they were written with, so they are
compared as UTC through `strftime`; on PostgreSQL they are timestamptz.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

import orjson

from db.invoice_models import Invoice
from db.models import Tenant
from db.raw import fetch_rows, is_postgres
from db.royalty_models import RoyaltyAdjustment, Work
from domain.invoicing.totals import tax_of
from domain.royalties.earnings import LineFigures, TransactionType
from domain.royalties.facts import AdjustmentFact, PeriodFacts, ReturnFact, SaleFact
from domain.royalties.line_parts import (
    LineRow,
    LineSplit,
    note_parts,
    refunds_by_note,
    split_line,
    usage_groups,
    with_refund,
)
from domain.royalties.settings import RoyaltyPeriod, RoyaltySettings


class _Sql:
    """Placeholders numbered in the order they are written (SQLite binds `?` by
    position, each once), and the few expressions the two dialects spell apart."""

    def __init__(self, postgres: bool) -> None:
        self.pg = postgres
        self.params: list[Any] = []

    def __call__(self, value: Any) -> str:
        if isinstance(value, datetime) and not self.pg:
            value = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.000")
        self.params.append(value)
        return f"${len(self.params)}"

    def at(self, column: str) -> str:
        return column if self.pg else f"strftime('%Y-%m-%d %H:%M:%f', {column})"

    def text(self, column: str, key: str) -> str:
        return f"{column}->>'{key}'" if self.pg else f"json_extract({column}, '$.{key}')"

    def ids(self, values: list[int]) -> str:
        if self.pg:
            return f"= ANY({self(values)}::bigint[])"
        return f"IN (SELECT value FROM json_each({self(orjson.dumps(values).decode())}))"

    def div(self, a: str, b: str) -> str:
        return f"div({a}, {b})" if self.pg else f"(({a}) / ({b}))"


def _time(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite
        value = datetime.fromisoformat(value)
    if value.tzinfo is UTC:  # asyncpg's
        return value  # type: ignore[no-any-return]
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _line(row: Any) -> LineRow:
    return LineRow(
        row["id"],
        row["kind"],
        row["quantity"],
        row["amount_minor"],
        row["discount_minor"],
        bool(row["tax_inclusive"]),
        row["tax_rate_bp"],
        row["work_id"],
        row["work_use"],
        row["details"],
    )


_LINE_COLUMNS = (
    "l.id, l.invoice_id, l.kind, l.quantity, l.amount_minor, l.discount_minor, "
    "l.tax_inclusive, l.tax_rate_bp, l.work_id, l.work_use"
)


def _names_work(q: _Sql) -> str:
    """A line that sells a work, or a usage line whose details may name one."""
    details = "l.details::text" if q.pg else "l.details"
    return f"(l.work_id IS NOT NULL OR (l.kind = 'usage' AND {details} LIKE '%\"workId\"%'))"


def _details(q: _Sql) -> str:
    return f"CASE WHEN l.work_id IS NULL AND {_names_work(q)} THEN l.details END AS details"


def _invoices(q: _Sql, tenant_id: int, period: RoyaltyPeriod) -> str:
    """`inv`: invoices paid in the period, and invoices paid before it that a credit
    note issued in it corrects (the two are disjoint)."""
    start, end = period.start, period.end
    return (
        "WITH inv AS ("
        "SELECT i.id, i.currency, i.paid_at, i.subscription_id FROM invoice i "
        f"WHERE i.tenant_id = {q(tenant_id)} AND i.status = 'paid' "
        f"AND {q.at('i.paid_at')} >= {q(start)} AND {q.at('i.paid_at')} < {q(end)} "
        "UNION ALL SELECT i.id, i.currency, i.paid_at, i.subscription_id FROM invoice i "
        f"WHERE i.id IN (SELECT c.invoice_id FROM credit_note c WHERE c.tenant_id = {q(tenant_id)} "
        f"AND {q.at('c.issued_at')} >= {q(start)} AND {q.at('c.issued_at')} < {q(end)}) "
        f"AND i.status = 'paid' AND {q.at('i.paid_at')} < {q(start)}) "
    )


async def _work_lines(tenant_id: int, period: RoyaltyPeriod) -> list[Any]:
    """The work lines of the period's invoices (`_invoices`), in no order (sorting a
    million rows in SQL cost more than sorting the facts)."""
    q = _Sql(is_postgres(Invoice._meta.db))
    sql = (
        f"{_invoices(q, tenant_id, period)}"
        f"SELECT {_LINE_COLUMNS}, {_details(q)}, inv.currency, inv.paid_at, inv.subscription_id "
        f"FROM inv JOIN invoice_line l ON l.invoice_id = inv.id WHERE {_names_work(q)}"
    )
    return await fetch_rows(Invoice, sql, q.params)


async def _notes_and_lines(
    tenant_id: int, period: RoyaltyPeriod
) -> tuple[dict[int, list[Any]], dict[int, list[LineRow]]]:
    """The credit notes issued before the period's end on its invoices that have
    work lines (issue order), and every line of those invoices (what a note is
    spread over)."""
    q = _Sql(is_postgres(Invoice._meta.db))
    sql = (
        f"{_invoices(q, tenant_id, period)}"
        "SELECT c.id, c.invoice_id, c.subtotal_minor, c.issued_at "
        "FROM credit_note c JOIN inv ON inv.id = c.invoice_id "
        f"WHERE {q.at('c.issued_at')} < {q(period.end)} AND EXISTS (SELECT 1 FROM "
        f"invoice_line l WHERE l.invoice_id = c.invoice_id AND {_names_work(q)}) "
        "ORDER BY c.issued_at, c.id"
    )
    notes: dict[int, list[Any]] = defaultdict(list)
    for row in await fetch_rows(Invoice, sql, q.params):
        notes[row["invoice_id"]].append(row)
    if not notes:
        return {}, {}
    q = _Sql(q.pg)
    sql = (
        f"SELECT {_LINE_COLUMNS}, {_details(q)} FROM invoice_line l "
        f"WHERE l.invoice_id {q.ids(sorted(notes))} ORDER BY l.invoice_id, l.position"
    )
    lines: dict[int, list[LineRow]] = defaultdict(list)
    for row in await fetch_rows(Invoice, sql, q.params):
        lines[row["invoice_id"]].append(_line(row))
    return dict(notes), dict(lines)


async def _works_named(tenant_id: int, rows: list[Any]) -> dict[str, int]:
    """The tenant's works named by usage lines' groups (public id → id)."""
    refs: set[str] = set()
    for row in rows:
        if row["details"] is not None:
            refs.update(r for r, _ in usage_groups(row["details"]) if r is not None)
    if not refs:
        return {}
    found = await Work.filter(tenant_id=tenant_id, public_id__in=sorted(refs)).values_list(
        "public_id", "id"
    )
    return dict(found)


async def _collected(tenant_id: int, period: RoyaltyPeriod) -> dict[str, int]:
    """Per currency, the lines without a work of subscription invoices paid in the
    period (net, inclusive tax out per invoice), minus the nets of the credit notes
    on paid subscription invoices counted in the period (work parts added back by
    the caller)."""
    q = _Sql(is_postgres(Invoice._meta.db))
    start, end = period.start, period.end
    d = "(10000 + g.rate)"
    half_up = (  # half away from zero, as domain.money.div_half_up
        f"CASE WHEN g.t >= 0 THEN {q.div(f'2 * g.t * 10000 + {d}', f'2 * {d}')} "
        f"ELSE -{q.div(f'-2 * g.t * 10000 + {d}', f'2 * {d}')} END"
    )
    lines = (
        f"SELECT g.currency, SUM(CASE WHEN g.inclusive AND g.rate > 0 THEN {half_up} "
        "ELSE g.t END) AS net FROM ("
        "SELECT i.currency, l.tax_inclusive AS inclusive, l.tax_rate_bp AS rate, "
        "SUM(l.amount_minor - l.discount_minor) AS t "
        "FROM invoice i JOIN invoice_line l ON l.invoice_id = i.id "
        f"WHERE i.tenant_id = {q(tenant_id)} AND i.status = 'paid' "
        f"AND i.subscription_id IS NOT NULL AND {q.at('i.paid_at')} >= {q(start)} "
        f"AND {q.at('i.paid_at')} < {q(end)} AND l.work_id IS NULL "
        # Tax is taken out of an inclusive invoice's lines together, as the invoice
        # did; exclusive lines need no per-invoice step.
        "GROUP BY i.currency, l.tax_inclusive, l.tax_rate_bp, "
        "CASE WHEN l.tax_inclusive AND l.tax_rate_bp > 0 THEN i.id END) g "
        "GROUP BY g.currency "
        "UNION ALL SELECT i.currency, -SUM(c.subtotal_minor) AS net "
        "FROM credit_note c JOIN invoice i ON i.id = c.invoice_id "
        f"WHERE c.tenant_id = {q(tenant_id)} AND i.status = 'paid' "
        f"AND i.subscription_id IS NOT NULL AND {q.at('c.issued_at')} < {q(end)} "
        f"AND {q.at('i.paid_at')} < {q(end)} "
        f"AND ({q.at('c.issued_at')} >= {q(start)} OR {q.at('i.paid_at')} >= {q(start)}) "
        "GROUP BY i.currency"
    )
    found: dict[str, int] = defaultdict(int)
    for row in await fetch_rows(Invoice, lines, q.params):
        found[row["currency"]] += int(row["net"] or 0)
    return found


async def _reads(tenant_id: int, period: RoyaltyPeriod, read_code: str) -> dict[int, int]:
    q = _Sql(is_postgres(Invoice._meta.db))
    start, end = period.start, period.end
    if q.pg:
        counted = (
            "CASE WHEN jsonb_typeof(e.properties->'reads') = 'number' "
            "AND e.properties->>'reads' ~ '^[1-9][0-9]{0,17}$' "
            "THEN (e.properties->>'reads')::bigint ELSE 1 END"
        )
    else:
        counted = (
            "CASE WHEN json_type(e.properties, '$.reads') = 'integer' "
            "AND json_extract(e.properties, '$.reads') BETWEEN 1 AND 999999999999999999 "
            "THEN json_extract(e.properties, '$.reads') ELSE 1 END"
        )
    sql = (
        "SELECT work_id, SUM(n) AS reads FROM ("
        "SELECT r.work_id, SUM(r.count) AS n FROM royalty_read r "
        f"WHERE r.tenant_id = {q(tenant_id)} AND {q.at('r.occurred_at')} >= {q(start)} "
        f"AND {q.at('r.occurred_at')} < {q(end)} GROUP BY r.work_id "
        f"UNION ALL SELECT w.id, SUM({counted}) FROM usage_event e "
        f"JOIN royalty_work w ON w.tenant_id = {q(tenant_id)} "
        f"AND w.public_id = {q.text('e.properties', 'workId')} "
        f"WHERE e.tenant_id = {q(tenant_id)} AND e.metric_id IN (SELECT m.id FROM "
        f"billable_metric m WHERE m.tenant_id = {q(tenant_id)} AND m.code = {q(read_code)}) "
        f"AND {q.at('e.timestamp')} >= {q(start)} AND {q.at('e.timestamp')} < {q(end)} "
        "GROUP BY w.id "
        "UNION ALL SELECT w.id, SUM(CASE WHEN c.quantity >= 1 THEN c.quantity ELSE 1 END) "
        f"FROM credit_entry c JOIN royalty_work w ON w.tenant_id = {q(tenant_id)} "
        f"AND w.public_id = {q.text('c.metadata', 'workId')} "
        f"WHERE c.tenant_id = {q(tenant_id)} AND c.kind = 'consumption' "
        f"AND {q.at('c.created_at')} >= {q(start)} AND {q.at('c.created_at')} < {q(end)} "
        "GROUP BY w.id) s GROUP BY work_id"
    )
    rows = await fetch_rows(Invoice, sql, q.params)
    return {row["work_id"]: int(row["reads"]) for row in rows if int(row["reads"] or 0) > 0}


async def _adjustments(tenant_id: int, period: RoyaltyPeriod) -> tuple[AdjustmentFact, ...]:
    rows = await RoyaltyAdjustment.filter(tenant_id=tenant_id, period=str(period)).order_by("id")
    return tuple(
        AdjustmentFact(a.id, a.payee_id, a.work_id, a.currency, a.amount_minor, a.reason)
        for a in rows
    )


async def period_facts(tenant_id: int, period: RoyaltyPeriod) -> PeriodFacts:
    """Everything the royalty run of `period` reads, for one tenant."""
    stored = await Tenant.filter(id=tenant_id).values_list("royalty_settings", flat=True)
    settings = RoyaltySettings.of(stored[0] if stored else None)
    notes, noted_lines = await _notes_and_lines(tenant_id, period)
    rows = await _work_lines(tenant_id, period)
    works = await _works_named(tenant_id, rows)
    collected = await _collected(tenant_id, period)
    sales: list[SaleFact] = []
    # Most lines are a tagged line of an invoice without credit notes: one fact each,
    # built straight from the row (a million of them is the benchmark's period).
    others: dict[int, list[Any]] = defaultdict(list)
    figures: dict[tuple[int, int, int], LineFigures] = {}  # shared: they are frozen
    for row in rows:
        if row["details"] is not None or row["invoice_id"] in notes:
            others[row["invoice_id"]].append(row)
        else:
            fact = _plain_sale(row, figures)
            if fact is not None:
                sales.append(fact)
    returns: list[ReturnFact] = []
    for invoice_id, invoice_rows in others.items():
        head = invoice_rows[0]
        lines = noted_lines.get(invoice_id) or [_line(row) for row in invoice_rows]
        splits = [s for s in (split_line(line, works) for line in lines) if s is not None]
        invoice_notes = notes.get(invoice_id, [])
        _invoice_facts(period, head, splits, invoice_notes, collected, sales, returns, lines)
    sales.sort(key=_BY_LINE)
    returns.sort(key=_BY_ISSUE)
    return PeriodFacts(
        sales=tuple(sales),
        returns=tuple(returns),
        collected_by_currency=dict(collected),
        reads_by_work=await _reads(tenant_id, period, settings.read_event_code),
        adjustments=await _adjustments(tenant_id, period),
    )


_KINDS = {
    None: TransactionType.SALE,
    "SALE": TransactionType.SALE,
    "LICENSE": TransactionType.LICENSE,
}
_BY_LINE = attrgetter("line_id", "work_id")
_BY_ISSUE = attrgetter("issued_at", "credit_note_id", "line_id", "work_id")


def _plain_sale(row: Any, known: dict[tuple[int, int, int], LineFigures]) -> SaleFact | None:
    """A work-tagged line of an invoice paid in the period that nothing credited."""
    amount = row["amount_minor"]
    if amount < 0:
        return None
    discount = min(max(row["discount_minor"], 0), amount)
    rate = row["tax_rate_bp"] if row["tax_inclusive"] else 0
    key = (amount, discount, rate)
    figures = known.get(key)
    if figures is None:
        tax = tax_of(amount - discount, rate, inclusive=True)
        figures = known[key] = LineFigures(amount, discount, tax)
    return SaleFact(
        row["id"],
        row["work_id"],
        _KINDS[row["work_use"]],
        row["currency"],
        max(row["quantity"], 0),
        figures,
        _time(row["paid_at"]),
    )


def _invoice_facts(
    period: RoyaltyPeriod,
    head: Any,
    splits: list[LineSplit],
    notes: list[Any],
    collected: dict[str, int],
    sales: list[SaleFact],
    returns: list[ReturnFact],
    lines: list[LineRow],
) -> None:
    """The facts of one invoice with credit notes or usage lines naming works."""
    currency, paid_at = head["currency"], _time(head["paid_at"])
    parts = note_parts(lines, [(n["id"], n["subtotal_minor"]) for n in notes])
    refunds = refunds_by_note(splits, [n["id"] for n in notes], parts)
    subscription = head["subscription_id"] is not None
    if paid_at >= period.start:
        for split in splits:
            for work, figures in split.pieces().items():
                refunded = sum(r.get((split.line_id, work), 0) for r in refunds.values())
                figures = with_refund(figures, refunded)
                sales.append(
                    SaleFact(
                        split.line_id, work, split.kind, currency, split.units, figures, paid_at
                    )
                )
                if subscription and split.kind is TransactionType.USAGE:
                    collected[currency] -= figures.net_minor  # a usage line's work part
    for note in notes:
        issued = _time(note["issued_at"])
        if subscription and period.start <= max(issued, paid_at):
            # The note was taken off the pool whole; its work parts are not pool revenue.
            collected[currency] += sum(refunds[note["id"]].values())
        if paid_at < period.start and issued >= period.start:
            for (line_id, work), part in sorted(refunds[note["id"]].items()):
                if part > 0:
                    returns.append(ReturnFact(line_id, work, note["id"], currency, part, issued))
