"""An export's batches of rows written as CSV, JSON or XLSX, as a stream of bytes.

CSV (RFC 4180: a header row, CRLF line ends, fields quoted when they must be):
instants in ISO 8601 (`2026-03-01T09:30:00+00:00`), booleans `true`/`false`, money in
integer minor units beside the row's `currency`, JSON documents as their text, a
missing value as an empty field. A free-text cell (a name, a reason, a request id)
that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is written with a
leading `'`, as OWASP recommends against CSV formula injection: a spreadsheet would
otherwise run it as a formula. Ids, statuses and codes Tally writes are never
altered; JSON and XLSX never are (an XLSX text cell is text, never a formula).

JSON: one array of objects, keys as the CSV header, instants as RFC 3339 strings,
JSON documents as objects, money as integer minor units.

XLSX (domain/reports/xlsx.py): numbers are numbers, instants real date-time cells
(UTC, no time zone, `yyyy-mm-dd hh:mm:ss`), text is text; money is a number in
MAJOR units formatted with its currency's decimals (JPY `#,##0`, EUR `#,##0.00`,
KWD `#,##0.000`), so its column is named without `_minor` (an IEEE double: exact to
the minor unit below 10^13 major units). Past Excel's 1,048,576 rows a sheet is
followed by another, `export (2)`, with the header again.

Each batch is encoded while the next one is read, a thousand rows at a time with
the event loop served in between: the database reads, the server formats (it is the
server that scales out, not the database).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

import orjson

from domain.reports import xlsx
from domain.reports.exports import Export
from domain.reports.kinds import Cell, Kind

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
Rows = Sequence[Sequence[Any]]  # each row its columns' values, then maybe more (its key)
_FORMULA_START = frozenset("=+-@\t\r")
# A line of a column joined with newlines that starts like a formula.
_FORMULA_LINE = re.compile("\n[=+\\-@\t\r]")
_NEEDS_QUOTES = re.compile('[",\r\n]')


SLICE = 1_000  # rows encoded between two returns to the event loop


class Encoder(Protocol):
    def begin(self) -> bytes: ...
    def rows(self, batch: Rows) -> bytes: ...
    def end(self) -> bytes: ...


def header(kind: Kind, fmt: str) -> list[str]:
    """Column names: the XLSX shows money in major units, so without `_minor`."""
    return [
        c.name.removesuffix("_minor") if fmt == "xlsx" and c.cell is Cell.MONEY else c.name
        for c in kind.columns
    ]


async def open_stream(export: Export, fmt: str) -> AsyncIterator[bytes]:
    """The export as a stream of bytes. The first batch is read here, before the
    stream is returned, so that a failure (the database down) is the request's own
    and not a cut in a 200; then the start goes out at once and each batch after it."""
    names = header(export.kind, fmt)
    encoder: Encoder = (
        CsvEncoder(export.kind, names)
        if fmt == "csv"
        else JsonEncoder(export.kind, names)
        if fmt == "json"
        else xlsx.XlsxEncoder(export.kind, names)
    )
    batches = export.batches()
    first = await anext(batches, None)
    return _stream(encoder, first, batches)


async def _stream(
    encoder: Encoder, first: Rows | None, batches: AsyncIterator[Rows]
) -> AsyncIterator[bytes]:
    start = encoder.begin()
    if start:
        yield start
    batch = first
    pending = asyncio.ensure_future(anext(batches, None)) if first is not None else None
    try:
        while batch is not None:
            # The next batch is read while this one is encoded, a slice at a time so
            # that other requests are served in between (encoding is pure CPU).
            for at in range(0, len(batch), SLICE):
                chunk = encoder.rows(batch[at : at + SLICE])
                if chunk:
                    yield chunk
                await asyncio.sleep(0)
            batch = await pending if pending is not None else None
            if batch is not None:
                pending = asyncio.ensure_future(anext(batches, None))
        end = encoder.end()
        if end:
            yield end
    finally:
        if pending is not None:
            pending.cancel()


# -- CSV ---------------------------------------------------------------------------------
def escape_formula(text: str) -> str:
    return "'" + text if text[:1] in _FORMULA_START else text


def _filled(values: Sequence[Any]) -> Sequence[Any]:
    return ["" if v is None else v for v in values] if None in values else values


def _quoted(values: Sequence[str]) -> Sequence[str]:
    """RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes
    doubled. One search over the column finds whether any field needs it."""
    if _NEEDS_QUOTES.search("".join(values)) is None:
        return values
    return [
        f'"{v.replace(chr(34), chr(34) * 2)}"' if _NEEDS_QUOTES.search(v) else v for v in values
    ]


def _text_column(values: Sequence[Any]) -> Sequence[str]:
    values = _filled(values)
    if _FORMULA_LINE.search("\n" + "\n".join(values)) is not None:
        values = [escape_formula(v) for v in values]
    return _quoted(values)


def _code_column(values: Sequence[Any]) -> Sequence[str]:
    return _quoted(_filled(values))


def _number_column(values: Sequence[Any]) -> Sequence[str]:
    if None in values:
        return ["" if v is None else str(v) for v in values]
    return list(map(str, values))


def _instant_column(values: Sequence[Any]) -> Sequence[str]:
    # orjson writes a list of datetimes as ISO 8601, as isoformat() does, several
    # times faster than calling it per cell; `null` (None) becomes an empty field.
    text = orjson.dumps(values)[1:-1].decode()
    return text.replace('"', "").replace("null", "").split(",")


def _bool_column(values: Sequence[Any]) -> Sequence[str]:
    return ["" if v is None else "true" if v else "false" for v in values]


_CSV_COLUMN: dict[Cell, Callable[[Sequence[Any]], Sequence[str]]] = {
    Cell.TEXT: _text_column,
    Cell.CODE: _code_column,
    Cell.JSON: _code_column,
    Cell.INT: _number_column,
    Cell.MONEY: _number_column,
    Cell.DATETIME: _instant_column,
    Cell.BOOL: _bool_column,
}


class CsvEncoder:
    """Column by column, each column turned into text in one pass (most of them by
    C code: a search, a join, `map(str, ...)`), then every line joined at once:
    about three times as fast as the csv module's writer on these rows, with the
    same output (tests/domain/reports/test_export_formats.py reads it back with it)."""

    def __init__(self, kind: Kind, names: list[str]) -> None:
        self.names = names
        self.columns = [_CSV_COLUMN[c.cell] for c in kind.columns]

    def begin(self) -> bytes:
        return (",".join(_quoted(self.names)) + "\r\n").encode()

    def rows(self, batch: Rows) -> bytes:
        # A row may end with its key (exports.py): zip stops at the last column.
        columns = [
            to_text(values)
            for to_text, values in zip(self.columns, zip(*batch, strict=True), strict=False)
        ]
        lines = "\r\n".join(map(",".join, zip(*columns, strict=True)))
        return (lines + "\r\n").encode()

    def end(self) -> bytes:
        return b""


# -- JSON --------------------------------------------------------------------------------
class JsonEncoder:
    def __init__(self, kind: Kind, names: list[str]) -> None:
        self.names = names
        self.documents = [i for i, c in enumerate(kind.columns) if c.cell is Cell.JSON]
        self.separator = b"["

    def begin(self) -> bytes:
        return b""

    def rows(self, batch: Rows) -> bytes:
        if self.documents:
            batch = [self._with_fragments(row) for row in batch]
        body = orjson.dumps([dict(zip(self.names, row, strict=False)) for row in batch])
        separator, self.separator = self.separator, b","
        return separator + body[1:-1]

    def end(self) -> bytes:
        return b"[]" if self.separator == b"[" else b"]"

    def _with_fragments(self, row: Sequence[Any]) -> list[Any]:
        cells = list(row)
        for i in self.documents:
            if cells[i] is not None:
                cells[i] = orjson.Fragment(cells[i])  # already JSON: embedded as it is
        return cells
