"""The export encoders on their own (issue 17): the hand-written CSV is byte for byte
what the csv module writes, the JSON what json reads back, the XLSX what openpyxl
reads back, whatever the text (quotes, commas, line breaks, formulas, markup,
control characters, other scripts)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import openpyxl
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.reports import formats, xlsx
from domain.reports.kinds import Cell, Column, Kind

_XSTRING = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")

KIND = Kind(
    "test",
    "test",
    (
        Column("name", "t.name", Cell.TEXT),
        Column("code", "t.code", Cell.CODE),
        Column("n", "t.n", Cell.INT),
        Column("amount_minor", "t.amount", Cell.MONEY),
        Column("currency", "t.currency", Cell.CODE),
        Column("at", "t.at", Cell.DATETIME),
        Column("flag", "t.flag", Cell.BOOL),
        Column("doc", "t.doc", Cell.JSON),
    ),
    (),
    time="t.at",
)
texts = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["=1+1", "+33 1", "-5", "@x", "\tx", "a,b", 'say "hi"', "a\r\nb", "<b>&"]),
)
instants = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(2199, 12, 31), timezones=st.just(UTC)
    ),
)
rows = st.lists(
    st.tuples(
        texts,
        st.one_of(st.none(), st.from_regex(r"[a-z]{1,4}_[A-Za-z0-9]{1,6}", fullmatch=True)),
        st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
        st.one_of(st.none(), st.integers(-(10**12), 10**12)),
        st.sampled_from(["EUR", "JPY", "KWD"]),
        instants,
        st.one_of(st.none(), st.booleans()),
        st.one_of(st.none(), st.just('{"a": [1, "x,y"]}')),
    ),
    min_size=1,
    max_size=20,
)


def _csv_cell(value: Any, cell: Cell) -> str:
    if value is None:
        return ""
    if cell is Cell.TEXT:
        return formats.escape_formula(value)
    if cell is Cell.DATETIME:
        return value.isoformat()
    if cell is Cell.BOOL:
        return "true" if value else "false"
    return str(value)


@settings(max_examples=200, deadline=None)
@given(rows)
def test_the_csv_is_what_the_csv_module_writes(batch: list[tuple[Any, ...]]) -> None:
    encoder = formats.CsvEncoder(KIND, formats.header(KIND, "csv"))
    ours = encoder.begin() + encoder.rows(batch) + encoder.end()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(formats.header(KIND, "csv"))
    cells = [c.cell for c in KIND.columns]
    writer.writerows([_csv_cell(v, c) for v, c in zip(row, cells, strict=True)] for row in batch)
    assert ours.decode() == buffer.getvalue()


def test_csv_formula_escaping_and_a_trailing_key_ignored() -> None:
    encoder = formats.CsvEncoder(KIND, formats.header(KIND, "csv"))
    at = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    row = ("=SUM(A1)", "=code", 1, 250, "EUR", at, True, None, 12345)  # 12345: the key
    body = encoder.rows([row]).decode()
    assert body == "'=SUM(A1),=code,1,250,EUR,2026-11-01T09:30:00+00:00,true,\r\n"


@settings(max_examples=100, deadline=None)
@given(rows)
def test_the_json_reads_back(batch: list[tuple[Any, ...]]) -> None:
    encoder = formats.JsonEncoder(KIND, formats.header(KIND, "json"))
    half = len(batch) // 2
    body = encoder.begin() + encoder.rows(batch[:half] or batch) + encoder.end()
    if half:
        encoder = formats.JsonEncoder(KIND, formats.header(KIND, "json"))
        body = encoder.rows(batch[:half]) + encoder.rows(batch[half:]) + encoder.end()
    parsed = json.loads(body)
    assert len(parsed) == len(batch)
    for obj, row in zip(parsed, batch, strict=True):
        assert obj["name"] == row[0] and obj["n"] == row[2] and obj["amount_minor"] == row[3]
        assert obj["at"] == (None if row[5] is None else row[5].isoformat())
        assert obj["doc"] == (None if row[7] is None else {"a": [1, "x,y"]})
    empty = formats.JsonEncoder(KIND, [])
    assert json.loads(empty.begin() + empty.end()) == []


def _as_openpyxl_reads(text: str | None) -> str | None:
    """openpyxl does not decode ST_Xstring's `_xHHHH_` escapes (Excel and LibreOffice
    do): a control character reads back as its escape, as does an escaped `_`."""
    if text is None:
        return None
    return _XSTRING.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def _xlsx(batch: list[tuple[Any, ...]]) -> openpyxl.Workbook:
    encoder = xlsx.XlsxEncoder(KIND, formats.header(KIND, "xlsx"))
    body = encoder.begin() + encoder.rows(batch) + encoder.end()
    return openpyxl.load_workbook(io.BytesIO(body))


@settings(max_examples=60, deadline=None)
@given(rows)
def test_the_xlsx_reads_back_typed(batch: list[tuple[Any, ...]]) -> None:
    sheet = _xlsx(batch).worksheets[0]
    head, *cells = list(sheet.iter_rows())
    assert [c.value for c in head] == formats.header(KIND, "xlsx")
    assert len(cells) == len(batch)
    for got, row in zip(cells, batch, strict=True):
        name, code, n, amount, currency, at, flag, doc = (c.value for c in got)
        assert name == _as_openpyxl_reads(row[0])
        assert n == row[2] or (n == float(row[2]) and abs(row[2]) > 2**53)
        exponent = {"EUR": 2, "JPY": 0, "KWD": 3}[currency]
        if row[3] is None:
            assert amount is None
        else:
            assert round(amount * 10**exponent) == row[3]
            assert got[3].number_format == {0: "#,##0", 2: "#,##0.00", 3: "#,##0.000"}[exponent]
        if row[5] is None:
            assert at is None
        else:
            assert abs(at - row[5].replace(tzinfo=None)).total_seconds() < 0.001
        assert code == row[1] and flag is row[6] and doc == row[7]


def test_xlsx_text_is_text_and_escaped() -> None:
    tricky = '=HYPERLINK("x")&<b>\r\n_x0041_\x01 é ✓ '
    row = (tricky, "c", None, None, "EUR", None, None, None)
    cell = _xlsx([row]).worksheets[0]["A2"]
    assert cell.data_type == "s"
    assert cell.value == '=HYPERLINK("x")&<b>\r\n_x005F_x0041__x0001_ é ✓ '  # see above
    long = ("x" * 40_000, "c", None, None, "EUR", None, None, None)
    assert len(_xlsx([long]).worksheets[0]["A2"].value) == xlsx.MAX_TEXT
