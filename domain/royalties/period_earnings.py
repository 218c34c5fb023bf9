"""A period's earnings (pure): the period's facts, the contributors' shares and the
contracts turned into earning and return rows per payee, in the sale's currency.

Rules, in the order the run applies them:

- A sale (a work-tagged invoice line, or a work group of a usage line) is split
  between the work's contributors by their shares on the day it was paid; each
  contributor earns on its part under its own contract for that transaction type (a
  contributor without one earns nothing on it). The basis (net receipts or list
  price) is per contract; escalators count the contract's units over its life, a
  sale that crosses a boundary is split at it. Sales are taken in payment order
  (paid at, then line id), so two runs of the same period earn the same.
- A licence (LICENSE) earns the contract's flat fee in the sale's currency per unit,
  whatever the price and the shares (each contributor's contract names its own fee),
  in the share of the licence the customer kept (a licence credited before it was
  earned earns nothing; one given away, 100 % off, earns nothing either).
- The subscription pool of each currency (collected x pool rate) is split between
  works pro rata to their reads (largest remainder), each work's part between its
  contributors by their shares on the period's last day, each part earning the
  SUBSCRIPTION_READ rate (escalators count reads).
- A credit note on a line paid in an earlier period claws back, per payee and slice,
  the refunded share of what that line earned, at the rates it earned then.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.money import allocate, div_half_up
from domain.royalties.earnings import (
    Basis,
    Slice,
    TransactionType,
    allocate_pool,
    basis_amount,
    check_shares,
    claw_back,
    earn_units,
    pool_amount,
)
from domain.royalties.facts import PeriodFacts
from domain.royalties.terms import ContractTerms

SharesAt = Callable[[int, date], Mapping[int, Decimal]]


@dataclass(slots=True)
class EarningRow:
    """One `RoyaltyEarning` row to write (amounts in the sale's currency, positive)."""

    payee_id: int
    work_id: int | None
    kind: TransactionType
    movement: str  # earning | return
    currency: str
    amount_minor: int
    units: int = 0
    basis_minor: int = 0
    tier: int | None = None
    rate: Decimal | None = None
    line_id: int | None = None
    credit_note_id: int | None = None
    line_kept_minor: int = 0
    refund_counted_minor: int = 0


@dataclass(frozen=True, slots=True)
class History:
    """What earlier periods left: units counted per (payee, work, kind) for escalators;
    per (line, work) and payee the slices the line earned (with its kind and the net
    receipts it was earned on); per (line, work, payee) what was refunded since."""

    units: Mapping[tuple[int, int, TransactionType], int]
    slices: Mapping[tuple[int, int], Mapping[int, Sequence[tuple[TransactionType, int, Slice]]]]
    refunded: Mapping[tuple[int, int, int], int]


class _Splitter:
    """`split_by_shares` for the many sales of a period: each set of shares is
    checked and ordered once (keyed by the share mapping the share book returns,
    kept alive here so its id is not reused), then each split is one allocation."""

    def __init__(self) -> None:
        self._orders: dict[int, tuple[Mapping[int, Decimal], list[int], list[Decimal]]] = {}

    def __call__(self, amount: int, shares: Mapping[int, Decimal]) -> dict[int, int]:
        found = self._orders.get(id(shares))
        if found is None:
            # Keyed by zero-padded internal ids so the largest-remainder tie-break
            # (smaller key) follows the id order on every database.
            checked = check_shares({f"{p:020d}": s for p, s in shares.items()})
            order = sorted(checked, key=lambda k: (-checked[k], k))
            found = (shares, [int(k) for k in order], [checked[k] for k in order])
            self._orders[id(shares)] = found
        _, payees, weights = found
        if len(payees) == 1:
            return {payees[0]: amount}
        return dict(zip(payees, allocate(amount, weights), strict=True))


def _split(amount: int, shares: Mapping[int, Decimal]) -> dict[int, int]:
    return _Splitter()(amount, shares)


def _slice_rows(
    payee: int, work: int, kind: TransactionType, currency: str, slices: list[Slice], **extra
) -> list[EarningRow]:
    return [
        EarningRow(
            payee,
            work,
            kind,
            "earning",
            currency,
            s.earned_minor,
            s.units,
            s.basis_minor,
            s.tier,
            s.rate,
            **extra,
        )
        for s in slices
    ]


def _licence_fee(full_minor: int, kept_minor: int, net_minor: int) -> int:
    """A licence's flat fees, in the share of the licence the customer kept: a licence
    credited in full before it was earned earns nothing, half of it refunded earns
    half (rounded half-up once), as a later refund would claw back."""
    if net_minor <= 0:
        return 0
    return div_half_up(full_minor * kept_minor, net_minor)


def period_earnings(
    facts: PeriodFacts,
    *,
    contracts: Mapping[tuple[int, int], ContractTerms],
    shares_at: SharesAt,
    history: History,
    pool_rate: Decimal,
    last_day: date,
) -> list[EarningRow]:
    """Every earning and return row of the period (see the module's rules)."""
    rows: list[EarningRow] = []
    units = defaultdict(int, history.units)
    split = _Splitter()
    for sale in sorted(facts.sales, key=lambda s: (s.paid_at, s.line_id, s.work_id)):
        shares = shares_at(sale.work_id, sale.paid_at.date())
        if not shares:
            continue
        if sale.kind is TransactionType.LICENSE:
            for payee in sorted(shares):
                terms = contracts.get((sale.work_id, payee))
                rule = terms.rule(TransactionType.LICENSE) if terms else None
                fee = (rule.flat_fee or {}).get(sale.currency) if rule else None
                if fee is None:
                    continue
                rows.append(
                    EarningRow(
                        payee,
                        sale.work_id,
                        sale.kind,
                        "earning",
                        sale.currency,
                        _licence_fee(
                            fee * sale.units, sale.figures.kept_minor, sale.figures.net_minor
                        ),
                        sale.units,
                        sale.figures.kept_minor,
                        line_id=sale.line_id,
                        line_kept_minor=sale.figures.kept_minor,
                    )
                )
            continue
        parts: dict[Basis, dict[int, int]] = {}
        for payee in sorted(shares):
            terms = contracts.get((sale.work_id, payee))
            rule = terms.rule(sale.kind) if terms else None
            if rule is None or rule.schedule is None:
                continue
            if rule.basis not in parts:
                parts[rule.basis] = split(basis_amount(sale.figures, rule.basis), shares)
            key = (payee, sale.work_id, sale.kind)
            slices = earn_units(units[key], sale.units, parts[rule.basis][payee], rule.schedule)
            units[key] += sale.units
            rows += _slice_rows(
                payee,
                sale.work_id,
                sale.kind,
                sale.currency,
                slices,
                line_id=sale.line_id,
                line_kept_minor=sale.figures.kept_minor,
            )
    rows += _pool_rows(facts, contracts, shares_at, units, pool_rate, last_day)
    rows += _return_rows(facts, history)
    return rows


def _pool_rows(
    facts: PeriodFacts,
    contracts: Mapping[tuple[int, int], ContractTerms],
    shares_at: SharesAt,
    units: dict[tuple[int, int, TransactionType], int],
    pool_rate: Decimal,
    last_day: date,
) -> list[EarningRow]:
    rows: list[EarningRow] = []
    kind = TransactionType.SUBSCRIPTION_READ
    reads = {f"{w:020d}": n for w, n in facts.reads_by_work.items() if n > 0}
    shares = {int(key): shares_at(int(key), last_day) for key in reads}
    rules = {
        (work, payee): rule
        for work, owners in shares.items()
        for payee in owners
        if (terms := contracts.get((work, payee))) is not None
        and (rule := terms.rule(kind)) is not None
        and rule.schedule is not None
    }
    for currency in sorted(facts.collected_by_currency):
        pool = pool_amount(facts.collected_by_currency[currency], pool_rate)
        if pool == 0 or not reads:
            continue
        for key, part in allocate_pool(pool, reads).by_work.items():
            work = int(key)
            if not shares[work]:
                continue
            split = _split(part, shares[work])
            for payee in sorted(shares[work]):
                rule = rules.get((work, payee))
                if rule is None:
                    continue
                # Escalators count a work's reads once per period, whatever the number
                # of currencies its pool parts come in.
                read = facts.reads_by_work[work]
                slices = earn_units(units[(payee, work, kind)], read, split[payee], rule.schedule)
                rows += _slice_rows(payee, work, kind, currency, slices)
    for work, payee in rules:
        units[(payee, work, kind)] += facts.reads_by_work[work]
    return rows


def _return_rows(facts: PeriodFacts, history: History) -> list[EarningRow]:
    rows: list[EarningRow] = []
    refunded = defaultdict(int, history.refunded)
    for ret in sorted(facts.returns, key=lambda r: (r.issued_at, r.credit_note_id, r.line_id)):
        by_payee = history.slices.get((ret.line_id, ret.work_id), {})
        for payee in sorted(by_payee):
            earned = by_payee[payee]
            key = (ret.line_id, ret.work_id, payee)
            kind, kept, _ = earned[0]
            clawback = claw_back(
                [s for _, _, s in earned],
                paid_minor=kept,
                refunded_before_minor=refunded[key],
                refund_minor=ret.refund_minor,
            )
            refunded[key] += clawback.refund_counted_minor
            for index, part in enumerate(clawback.slices):
                if index and part.clawed_minor == 0 and part.basis_minor == 0:
                    continue
                rows.append(
                    EarningRow(
                        payee,
                        ret.work_id,
                        kind,
                        "return",
                        ret.currency,
                        part.clawed_minor,
                        0,
                        part.basis_minor,
                        part.tier,
                        part.rate,
                        line_id=ret.line_id,
                        credit_note_id=ret.credit_note_id,
                        # Counted once per (credit note, line, payee): on its first row.
                        refund_counted_minor=0 if index else clawback.refund_counted_minor,
                    )
                )
    return rows
