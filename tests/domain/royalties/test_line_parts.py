"""How an invoice line becomes royalty pieces (pure): figures, usage groups by work,
credit notes spread over lines and groups without losing a minor unit."""

from __future__ import annotations

import orjson

from domain.royalties.earnings import LineFigures, TransactionType
from domain.royalties.line_parts import LineRow, note_parts, share, split_line, usage_groups

WORKS = {"wrk_dune": 1, "wrk_emma": 2}


def usage(amount: int, groups: list[tuple[str | None, int]], **extra: object) -> LineRow:
    details = {
        "groups": [
            {"group": {"workId": ref} if ref else {}, "units": "1", "amountMinor": minor}
            for ref, minor in groups
        ]
    }
    return LineRow(
        id=extra.pop("id", 9),  # type: ignore[arg-type]
        kind="usage",
        quantity=1,
        amount_minor=amount,
        discount_minor=extra.pop("discount", 0),  # type: ignore[arg-type]
        tax_inclusive=extra.pop("inclusive", False),  # type: ignore[arg-type]
        tax_rate_bp=extra.pop("rate", 0),  # type: ignore[arg-type]
        details=orjson.dumps(details).decode(),
    )


def test_a_tagged_line_is_one_piece_with_the_invoice_s_tax_rounding() -> None:
    line = LineRow(1, "one_off", 3, 999, 99, True, 2000, work_id=7, work_use="LICENSE")
    # 9.00 paid, tax inside: 900 - 900 x 100/120 = 150 exactly.
    split = split_line(line, {})
    assert split is not None and (split.kind, split.units) == (TransactionType.LICENSE, 3)
    assert split.pieces() == {7: LineFigures(999, 99, 150)}
    odd = LineRow(2, "one_off", 1, 999, 0, True, 2000, work_id=7)
    assert odd.included_tax_minor == 166  # the net, 832.5, is 833 half-up
    assert split_line(LineRow(3, "one_off", 1, -500, 0, False, 0, work_id=7), {}) is None
    assert split_line(LineRow(4, "plan", 1, 500, 0, False, 0), WORKS) is None


def test_usage_groups_by_work_share_the_line_s_discount_and_tax() -> None:
    line = usage(
        650,
        [("wrk_dune", 300), ("wrk_emma", 200), ("wrk_dune", 100), ("wrk_gone", 30), (None, 20)],
        discount=65,
    )
    split = split_line(line, WORKS)
    assert split is not None and (split.kind, split.units) == (TransactionType.USAGE, 1)
    # 65 off in proportion: 30, 20, 10, 3, 2; Dune's two groups are summed.
    assert split.pieces() == {1: LineFigures(400, 40), 2: LineFigures(200, 20)}
    # A credit note's part of the line, over the groups' nets (585): 117 → 72/36/18/...
    assert split.refund_by_work(117) == {1: 72, 2: 36}
    assert sum(g.figures.net_minor for g in split.groups) == line.net_minor == 585


def test_groups_that_do_not_add_up_to_the_line_are_scaled_to_it() -> None:
    # A period billed in two steps: the line carries 50.00 of groups worth 100.00.
    split = split_line(usage(5000, [("wrk_dune", 7000), ("wrk_emma", 3000)]), WORKS)
    assert split is not None
    assert split.pieces() == {1: LineFigures(3500), 2: LineFigures(1500)}
    inclusive = split_line(
        usage(1200, [("wrk_dune", 600), (None, 600)], inclusive=True, rate=2000), WORKS
    )
    assert inclusive is not None and inclusive.pieces() == {1: LineFigures(600, 0, 100)}


def test_malformed_details_name_no_work() -> None:
    assert usage_groups(None) == [] and usage_groups("[]") == []
    assert usage_groups({"groups": ["x", {"group": "x", "amountMinor": True}]}) == [(None, 0)]
    assert usage_groups({"groups": [{"group": {"workId": 5}, "amountMinor": 10}]}) == [(None, 10)]
    assert split_line(usage(100, [(None, 100)]), WORKS) is None
    assert split_line(usage(100, [("wrk_unknown", 100)]), WORKS) is None


def test_credit_notes_are_spread_by_net_and_capped_at_each_line() -> None:
    lines = [
        LineRow(1, "one_off", 1, 2000, 0, False, 2000, work_id=1),
        LineRow(2, "one_off", 1, 50000, 0, False, 2000, work_id=2),
        LineRow(3, "one_off", 1, 500, 0, False, 2000),
        LineRow(4, "proration_credit", 1, -1000, 0, False, 2000),  # weighs nothing
    ]
    parts = note_parts(lines, [(10, 10500), (11, 42000), (12, 5000)])
    assert parts[10] == {1: 400, 2: 10000, 3: 100, 4: 0}
    # 420.00 more would refund more than each line kept: capped at what is left.
    assert parts[11] == {1: 1600, 2: 40000, 3: 400, 4: 0}
    assert parts[12] == {1: 0, 2: 0, 3: 0, 4: 0}
    assert note_parts([], [(1, 100)]) == {1: {}}


def test_share_never_loses_a_minor_unit() -> None:
    assert share(100, [1, 1, 1]) == [34, 33, 33]
    assert share(100, [0, 0]) == [0, 0] and share(0, [5]) == [0] and share(7, []) == []
    assert share(10, [-5, 5]) == [0, 10]
