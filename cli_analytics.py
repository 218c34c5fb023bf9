"""The analytics commands of `python server.py` (issue 17): `rebuild-analytics`
computes the MRR movement log again from subscription history and compares it with
the live one (`--write` replaces it: the back-fill of data older than the log), and
`stats` prints a month's KPIs as terminal tables."""

from __future__ import annotations

import sys

from rich.columns import Columns
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from db.models import Tenant
from domain import clock
from domain.analytics.rebuild import rebuild
from domain.reports import kpi_text as text
from domain.reports.kpi_text import Figures, Pairs
from domain.reports.kpi_text import Table as Section
from domain.reports.kpis import Month, MonthlyKpis, last_complete_month, monthly_kpis
from domain.tenancy.access import Principal, Role


async def rebuild_analytics(tenant: str | None, write: bool) -> int:
    """Exit status 0 when every tenant's live log equals its rebuild (or was
    rewritten with `write`), 1 otherwise."""
    reports = await rebuild(tenant, write=write)
    if tenant and not reports:
        print(f"no tenant {tenant}")
        return 1
    unequal = 0
    for report in reports:
        if report.equal:
            state = "equal"
        elif report.written:
            state = f"{report.difference_count} differences: log rewritten"
        else:
            state = f"{report.difference_count} differences"
            unequal += 1
        print(
            f"tenant {report.tenant_id}: {report.live_rows} live rows, "
            f"{report.rebuilt_rows} rebuilt: {state}"
        )
        if not report.written:
            for line in report.differences:
                print(f"  {line}")
    return 1 if unequal else 0


async def stats(tenant: str | None, month: str | None, *, console: Console | None = None) -> int:
    """Print the KPIs of `month` (default: the last complete month) of one tenant or of
    every tenant, as terminal tables: the PDF report's sections, in English."""
    chosen = Month.parse(month) if month else last_complete_month(clock.now())
    query = Tenant.filter(public_id=tenant) if tenant else Tenant.all()
    rows = await query.order_by("id")
    if tenant and not rows:
        print(f"error: no tenant {tenant} (--tenant)", file=sys.stderr)
        return 1
    # Wide enough for the 12-month table when the output is a pipe or a file.
    out = console or Console(width=max(Console().width, 120) if not sys.stdout.isatty() else None)
    f = Figures("en")
    for row in rows:
        principal = Principal(tenant_id=row.id, role=Role.ADMIN, key_id=0)
        kpis = await monthly_kpis(principal, str(chosen))
        _print_tenant(out, row, kpis, f)
    return 0


def _pairs(title: str, pairs: Pairs, strong: set[str] | None = None) -> Table:
    table = Table(title=title, show_header=False, title_justify="left", min_width=36)
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    for name, value in pairs:
        # Text, not markup: a customer or metric name may hold "[...]".
        table.add_row(Text(name), Text(value), style="bold" if name in (strong or ()) else None)
    return table


def _grid(title: str, section: Section) -> Table:
    headers, rows = section
    table = Table(title=title, title_justify="left")
    for header, numeric in headers:
        table.add_column(header, justify="right" if numeric else "left", no_wrap=True)
    for cells in rows:
        table.add_row(*(Text(cell) for cell in cells))
    return table


def _print_tenant(out: Console, tenant: Tenant, kpis: MonthlyKpis, f: Figures) -> None:
    when = f.month(kpis.month)
    if not kpis.complete:
        when += f" (in progress, to {f.day(kpis)})"
    out.rule(f"[bold]{escape(tenant.name)}[/] {tenant.public_id} · KPIs of {when}")
    if not kpis.currencies:
        out.print(f.t("nothing"))
    strong = f.strong()
    for c in kpis.currencies:
        out.print(f"\n[bold]{c.currency}[/]")
        blocks = [_pairs(f.t("recurring"), text.recurring(c, f), strong)]
        if c.customers is not None:
            blocks.append(_pairs(f.t("customers"), text.customers(c, f)))
        blocks.append(_pairs(f.t("cash"), text.cash(c, f), strong))
        receivables = f.t("receivables", date=f.day(kpis))
        blocks.append(_pairs(receivables, text.receivables(c, f), strong))
        out.print(Columns(blocks))
        out.print(_grid(f.t("history"), text.history(c, f)))
        if c.cohorts:
            out.print(_grid(f.t("cohorts"), text.cohorts(c, f)))
    flows = text.credit_flows(kpis, f)
    if flows:
        out.print(
            Columns(
                [_pairs(f.t("credits"), flows), _grid(f.t("module"), text.credit_modules(kpis, f))]
            )
        )
        if kpis.credits.top_consumers:
            out.print(_grid(f.t("top_consumers"), text.top_consumers(kpis, f)))
        if kpis.credits.bought:
            out.print(_grid(f.t("top_ups"), text.top_ups(kpis, f)))
    if kpis.usage:
        out.print(_grid(f.t("usage"), text.usage(kpis, f)))
    if kpis.royalties:
        out.print(_grid(f.t("royalties", date=f.day(kpis)), text.royalties(kpis, f)))
