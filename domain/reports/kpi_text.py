"""The KPI report's figures as text in one language, section by section: the PDF lays
them out in HTML (`kpi_report.py`), the `stats` command in terminal tables
(`cli_analytics.py`), so both show the same rows. Plain text, never HTML.

A section is either pairs (label, value) or a table (headers, rows), a header being
(text, numeric: aligned to the end). Money is written by `format_money`, counts and
rates by Babel, months by name, all in the report's language.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from domain.analytics.mrr import Kind
from domain.invoicing.i18n import date_text, language, number_text, percent_text
from domain.money import format_money, round_minor
from domain.reports.kpi_i18n import label
from domain.reports.kpis import CurrencyKpis, MonthlyKpis
from domain.royalties.statement_i18n import period_text

DASH = "—"
LRM = "\u200e"  # keeps "(1/2)" and ids left to right inside Arabic
Pairs = list[tuple[str, str]]
Table = tuple[list[tuple[str, bool]], list[list[str]]]
STRONG = ("mrr_end", "arr", "net", "total")  # the rows a layout may set in bold


class Figures:
    """Formatting in one language: words, money, counts, rates, months, days."""

    def __init__(self, locale: str | None) -> None:
        self.lang = language(locale)

    def t(self, key: str, **values: object) -> str:
        return label(key, self.lang, **values)

    def money(self, minor: int, currency: str) -> str:
        return format_money(minor, currency, self.lang)

    def fraction(self, minor: Decimal | None, currency: str) -> str:
        """ARPA, LTV: minor units with decimals, shown rounded to the minor unit."""
        return DASH if minor is None else self.money(round_minor(minor), currency)

    def count(self, value: int | Decimal) -> str:
        return number_text(value, self.lang)

    def rate(self, value: Decimal | None, part: int | None = None, whole: int | None = None) -> str:
        """A ratio (0.1234) as a percent, with its counts when given."""
        if value is None:
            return DASH
        text = percent_text(value.scaleb(2), self.lang) or DASH
        if part is not None and whole is not None:
            text += f" {LRM}({self.count(part)}/{self.count(whole)}){LRM}"
        return text

    def month(self, period: str) -> str:
        """ "2026-11" as the language names the month."""
        return period_text(period, self.lang)

    def day(self, kpis: MonthlyKpis) -> str:
        """The day receivables and royalties are read at: the month's last (they are
        read at its end, midnight), or today while it runs."""
        last = kpis.as_of - timedelta(microseconds=1) if kpis.complete else kpis.as_of
        return date_text(last, self.lang)

    def strong(self) -> set[str]:
        return {self.t(k) for k in STRONG}


def _headers(f: Figures, *keys: str) -> list[tuple[str, bool]]:
    """Column headers: a key ending in "#" is numeric."""
    return [(f.t(k.rstrip("#")), k.endswith("#")) for k in keys]


def recurring(c: CurrencyKpis, f: Figures) -> Pairs:
    p, cur = c.mrr, c.currency
    return [
        (f.t("mrr_start"), f.money(p.mrr_start, cur)),
        (f.t("new"), f.money(p.of(Kind.NEW), cur)),
        (f.t("expansion"), f.money(p.of(Kind.EXPANSION), cur)),
        (f.t("reactivation"), f.money(p.of(Kind.REACTIVATION), cur)),
        (f.t("contraction"), f.money(-p.of(Kind.CONTRACTION), cur)),
        (f.t("churn"), f.money(-p.of(Kind.CHURN), cur)),
        (f.t("mrr_end"), f.money(p.mrr_end, cur)),
        (f.t("net_new"), f.money(p.mrr_end - p.mrr_start, cur)),
        (f.t("arr"), f.money(p.arr_end, cur)),
    ]


def customers(c: CurrencyKpis, f: Figures) -> Pairs:
    o = c.customers
    if o is None:  # no recurring revenue in this currency
        return []
    return [
        (f.t("paying_start"), f.count(o.paying_start)),
        (f.t("paying_end"), f.count(o.paying_end)),
        (f.t("new_customers"), f.count(o.new)),
        (f.t("churned_customers"), f.count(o.churned)),
        (f.t("reactivated_customers"), f.count(o.reactivated)),
        (f.t("logo_churn"), f.rate(o.logo_churn_rate)),
        (f.t("gross_mrr_churn"), f.rate(o.gross_mrr_churn_rate)),
        (f.t("nrr"), f.rate(o.net_revenue_retention)),
        (f.t("grr"), f.rate(o.gross_revenue_retention)),
        (f.t("arpa"), f.fraction(o.arpa, c.currency)),
        (f.t("ltv"), f.fraction(o.ltv, c.currency)),
        (
            f.t("trial_conversion"),
            f.rate(o.trial_conversion_rate, o.trials_converted, o.trials_ended),
        ),
    ]


def cash(c: CurrencyKpis, f: Figures) -> Pairs:
    k, cur = c.cash, c.currency
    return [
        (f.t("invoiced"), f.money(k.invoiced_minor, cur)),
        (f.t("collected"), f.money(k.collected_minor, cur)),
        (f.t("refunded"), f.money(-k.refunded_minor, cur)),
        (f.t("net"), f.money(k.net_minor, cur)),
        (f.t("success_rate"), f.rate(k.success_rate)),
        (f.t("dunning_recovery"), f.rate(k.recovery_rate, k.dunning_recovered, k.dunning_started)),
    ]


def receivables(c: CurrencyKpis, f: Figures) -> Pairs:
    rows = [
        (f.t(name if name == "current" else f"late_{name.replace('-', '_')}"),
         f.money(amount, c.currency))
        for name, amount in c.receivables
    ]  # fmt: skip
    return [*rows, (f.t("total"), f.money(c.receivables_total, c.currency))]


def history(c: CurrencyKpis, f: Figures) -> Table:
    """The last 12 months of MRR: gained (new, expansion, reactivation) and lost."""
    cur = c.currency
    rows = [
        [
            f.month(f"{p.start:%Y-%m}"),
            f.money(p.mrr_end, cur),
            f.money(p.of(Kind.NEW) + p.of(Kind.EXPANSION) + p.of(Kind.REACTIVATION), cur),
            f.money(-p.of(Kind.CONTRACTION) - p.of(Kind.CHURN), cur),
            f.money(p.mrr_end - p.mrr_start, cur),
        ]
        for p in c.series
    ]
    return _headers(f, "month", "mrr#", "gained#", "lost#", "net_new#"), rows


def cohorts(c: CurrencyKpis, f: Figures) -> Table:
    """Per cohort, the share still paying each month after the first (and how many)."""
    width = max((len(r.retained) for r in c.cohorts), default=0)
    headers = _headers(f, "cohort", "customers#")
    headers += [(f.t("month_n", n=f.count(n)), True) for n in range(width)]
    rows = []
    for r in c.cohorts:
        cells = [f.month(r.cohort), f.count(r.customers)]
        for kept in r.retained:
            share = (Decimal(kept) / r.customers).quantize(Decimal("0.0001"))
            cells.append(f"{f.rate(share)} ({f.count(kept)})")
        rows.append(cells + [""] * (width - len(r.retained)))
    return headers, rows


def credit_flows(kpis: MonthlyKpis, f: Figures) -> Pairs:
    """Credits in and out over the month; [] when nothing moved."""
    c = kpis.credits
    figures = {
        "consumed": c.consumed,
        "refunded": c.refunded,
        "allowance": c.allowance,
        "granted": c.granted,
        "purchased": c.purchased,
        "expired": c.expired,
    }
    if not any(figures.values()) and not c.bought:
        return []
    return [(f.t(key), f.count(value)) for key, value in figures.items()]


def credit_modules(kpis: MonthlyKpis, f: Figures) -> Table:
    consumed: dict[str, int] = {}
    for point in kpis.credits.points:
        for m in point.modules:
            consumed[m.module] = consumed.get(m.module, 0) + m.consumed
    rows = [[name or DASH, f.count(n)] for name, n in consumed.items()]
    return _headers(f, "module", "consumed#"), rows


def top_consumers(kpis: MonthlyKpis, f: Figures) -> Table:
    rows = [
        [f"{t.name} {LRM}({t.customer_id}){LRM}", f.count(t.consumed)]
        for t in kpis.credits.top_consumers
    ]
    return _headers(f, "customer", "consumed#"), rows


def top_ups(kpis: MonthlyKpis, f: Figures) -> Table:
    rows = [
        [
            b.currency,
            f.count(b.purchases),
            f.count(b.credits),
            f.money(b.net_minor, b.currency),
            f.money(b.total_minor, b.currency),
        ]
        for b in kpis.credits.bought
    ]
    return _headers(f, "currency", "purchases#", "credits#", "net#", "total#"), rows


def usage(kpis: MonthlyKpis, f: Figures) -> Table:
    rows = [
        [
            f"{m.name} {LRM}({m.code}, {m.aggregation}){LRM}",
            f.count(m.events),
            DASH if m.quantity is None else f.count(m.quantity),
        ]
        for m in kpis.usage
    ]
    return _headers(f, "metric", "events#", "quantity#"), rows


def royalties(kpis: MonthlyKpis, f: Figures) -> Table:
    rows = [
        [
            r.currency,
            *(
                f.money(minor, r.currency)
                for minor in (
                    r.payable_minor,
                    r.awaiting_approval_minor,
                    r.approved_minor,
                    r.carried_minor,
                    r.recoverable_minor,
                    r.advances_outstanding_minor,
                    r.reserve_held_minor,
                )
            ),
            f.count(r.payees),
        ]
        for r in kpis.royalties
    ]
    keys = ("payable#", "awaiting_approval#", "approved#", "carried#", "recoverable#")
    return _headers(f, "currency", *keys, "advances#", "reserve#", "payees#"), rows
