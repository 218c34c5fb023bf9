"""How a paid invoice line becomes royalty facts (pure): its figures, its work
pieces, and each credit note's part of it.

- A line's figures: list = its amount (quantity x unit price as invoiced), its
  discount, the tax inside it when its price is tax-inclusive (the invoice's own
  `totals.tax_of`, half-up, on the discounted amount), its net = paid - that tax.
- A work-tagged line (SALE, LICENSE) is one piece: (line, work).
- A usage line is one piece per work its groups name (`details["groups"][*].group
  .workId`): a group's list is its `amountMinor` (shared out in proportion when the
  groups do not add up to the line, a period billed in two steps), and the line's
  discount and included tax are shared between its groups in proportion to their
  lists; groups of one work are summed. Groups without a work (or an unknown one)
  stay subscription revenue.
- A credit note's `subtotal_minor` (its net, without tax) is spread over ALL the
  invoice's lines in proportion to their nets (largest remainder), each line's
  running total capped at its net, notes taken in issue order; a usage line's part
  is then spread over its groups in proportion to their nets. So every piece's
  refunds are sums of per-note parts, whichever period they fall in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from domain.invoicing.totals import tax_of
from domain.money import allocate
from domain.royalties.earnings import LineFigures, TransactionType

USAGE_KINDS = ("usage",)


def share(total: int, weights: Sequence[int]) -> list[int]:
    """`total` split in proportion to `weights` (negatives count as 0), exactly; all
    zeros when there is nothing to split or no weight to split it by."""
    clipped = [max(w, 0) for w in weights]
    if not clipped:
        return []
    if total == 0 or sum(clipped) == 0:
        return [0] * len(clipped)
    return allocate(total, clipped)


def usage_groups(details: Any) -> list[tuple[str | None, int]]:
    """(workId or None, amountMinor) of each group of a usage line's stored details;
    anything malformed counts as a group without a work and no amount."""
    if isinstance(details, str | bytes):
        details = orjson.loads(details)
    groups = details.get("groups") if isinstance(details, dict) else None
    found: list[tuple[str | None, int]] = []
    for group in groups if isinstance(groups, list) else []:
        if not isinstance(group, dict):
            continue
        values = group.get("group")
        work = values.get("workId") if isinstance(values, dict) else None
        amount = group.get("amountMinor")
        amount = amount if isinstance(amount, int) and not isinstance(amount, bool) else 0
        found.append((work if isinstance(work, str) else None, amount))
    return found


@dataclass(frozen=True, slots=True)
class LineRow:
    """An invoice line as stored (the columns royalties read)."""

    id: int
    kind: str
    quantity: int
    amount_minor: int
    discount_minor: int
    tax_inclusive: bool
    tax_rate_bp: int
    work_id: int | None = None
    work_use: str | None = None
    details: Any = None  # usage lines naming works only

    @property
    def list_minor(self) -> int:
        return self.amount_minor

    @property
    def discount(self) -> int:
        return min(max(self.discount_minor, 0), max(self.amount_minor, 0))

    @property
    def included_tax_minor(self) -> int:
        paid = self.amount_minor - self.discount
        if not self.tax_inclusive or paid <= 0:
            return 0
        return tax_of(paid, self.tax_rate_bp, inclusive=True)

    @property
    def net_minor(self) -> int:
        """What the line brought in, without tax (negative for a credit line)."""
        return self.amount_minor - self.discount - self.included_tax_minor


@dataclass(frozen=True, slots=True)
class Group:
    work_id: int | None
    figures: LineFigures  # refunded_minor 0: refunds are per note


@dataclass(frozen=True, slots=True)
class LineSplit:
    """A line's work pieces: its groups (one for a tagged line) and what they are."""

    line_id: int
    kind: TransactionType
    units: int
    groups: tuple[Group, ...]

    def pieces(self) -> dict[int, LineFigures]:
        """Per work (in id order), the summed figures of its groups (refunds not yet
        counted)."""
        sums: dict[int, list[int]] = {}
        for g in self.groups:
            if g.work_id is None:
                continue
            total = sums.setdefault(g.work_id, [0, 0, 0])
            total[0] += g.figures.list_minor
            total[1] += g.figures.discount_minor
            total[2] += g.figures.included_tax_minor
        return {work: LineFigures(*sums[work]) for work in sorted(sums)}

    def refund_by_work(self, line_part: int) -> dict[int, int]:
        """A credit note's part of the line, per work."""
        parts = share(line_part, [g.figures.net_minor for g in self.groups])
        found: dict[int, int] = defaultdict(int)
        for g, part in zip(self.groups, parts, strict=True):
            if g.work_id is not None:
                found[g.work_id] += min(part, g.figures.net_minor)
        return dict(found)


def split_line(line: LineRow, works: Mapping[str, int]) -> LineSplit | None:
    """The line's work pieces; None when it sells no (known) work or is a credit."""
    if line.amount_minor < 0:
        return None
    whole = LineFigures(line.list_minor, line.discount, line.included_tax_minor)
    if line.work_id is not None:
        kind = TransactionType(line.work_use or TransactionType.SALE)
        return LineSplit(line.id, kind, max(line.quantity, 0), (Group(line.work_id, whole),))
    if line.kind not in USAGE_KINDS:
        return None
    groups = usage_groups(line.details)
    named = [works.get(ref) if ref is not None else None for ref, _ in groups]
    if not any(w is not None for w in named):
        return None
    amounts = [max(a, 0) for _, a in groups]
    lists = amounts if sum(amounts) == whole.list_minor else share(whole.list_minor, amounts)
    discounts = share(whole.discount_minor, lists)
    taxes = share(
        whole.included_tax_minor, [li - d for li, d in zip(lists, discounts, strict=True)]
    )
    parts = []
    for work, li, d, t in zip(named, lists, discounts, taxes, strict=True):
        d = min(d, li)
        parts.append(Group(work, LineFigures(li, d, min(t, li - d))))
    # One usage line per billing period and work is one unit: metered quantities
    # (GB, tokens, decimals) are not whole units an escalator could count.
    return LineSplit(line.id, TransactionType.USAGE, 1, tuple(parts))


def note_parts(
    lines: Sequence[LineRow], notes: Sequence[tuple[int, int]]
) -> dict[int, dict[int, int]]:
    """Each credit note's part of each line (note id → line id → minor units), net
    of tax; `notes` are (id, subtotal_minor) in issue order."""
    nets = [line.net_minor for line in lines]
    left = [max(n, 0) for n in nets]
    found: dict[int, dict[int, int]] = {}
    for note_id, subtotal in notes:
        parts = share(max(subtotal, 0), nets)
        taken = {}
        for i, part in enumerate(parts):
            part = min(part, left[i])
            left[i] -= part
            taken[lines[i].id] = part
        found[note_id] = taken
    return found


def refunds_by_note(
    splits: Sequence[LineSplit], note_ids: Sequence[int], parts: Mapping[int, Mapping[int, int]]
) -> dict[int, dict[tuple[int, int], int]]:
    """Each note's part of each piece: note id → (line id, work id) → minor units."""
    return {
        note_id: {
            (split.line_id, work): part
            for split in splits
            for work, part in split.refund_by_work(parts[note_id].get(split.line_id, 0)).items()
        }
        for note_id in note_ids
    }


def with_refund(figures: LineFigures, refunded: int) -> LineFigures:
    """A piece's figures with what its credit notes took (never more than its net)."""
    return LineFigures(
        figures.list_minor,
        figures.discount_minor,
        figures.included_tax_minor,
        min(max(refunded, 0), figures.net_minor),
    )
