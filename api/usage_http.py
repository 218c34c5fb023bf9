"""The usage HTTP endpoints beside /graphql (issue 15): bulk ingestion and streamed exports.

`POST /v1/events` takes a JSON array of events, `{"events": [...]}`, or NDJSON
(`Content-Type: application/x-ndjson`, one event per line, blank lines skipped),
optionally `Content-Encoding: gzip`, at most 50 MB once decompressed. It never goes
through GraphQL: orjson parses the body and `domain.usage.ingest.ingest_events`
validates and stores it, 1,000 events per call, each call its own transaction.

It answers 200 whenever the body could be read, with counts and the refused events:

    {"accepted": 998, "duplicates": 1, "rejected": 1,
     "errors": [{"index": 7, "transactionId": "tx-7", "code": "UNKNOWN_METRIC",
                 "message": "...", "field": "metricCode"}]}

as Segment's and Amplitude's batch APIs do: per-event refusals are data, not a failed
request (207 Multi-Status is WebDAV's; clients treat it as an oddity). `index` is the
event's position in the array; for NDJSON, the line's 0-based number in the body (blank
lines count). A request that fails part-way (503) may have stored its first chunks:
resending the body is safe, every event being keyed by its transactionId.

Whole-request failures are `{"error": {"code", "message"}}` with 400 (INVALID_JSON
with its position, INVALID_BODY, INVALID_GZIP), 401, 403, 413 (PAYLOAD_TOO_LARGE),
415 (UNSUPPORTED_ENCODING) or 503 (DATABASE_UNAVAILABLE).

`GET /v1/exports/usage-events.{csv|json}?customerId=&since=&until=` and
`GET /v1/exports/usage-periods.{csv|json}?customerId=` stream a customer's events
and its aggregated usage per period (a customer token: only its own customer).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from api.bulk_http import (
    NDJSON_TYPES,
    Problem,
    answers_json_errors,
    json_response,
    parse_json,
    parse_ndjson,
    principal_for,
    read_body,
    record_in_chunks,
)
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import use_bus
from domain.usage.ingest import ingest_events
from domain.usage.queries import export_events, export_periods
from domain.usage.requests import MAX_EVENTS_PER_CALL

_FLUSH_ROWS = 500  # rows per chunk of a streamed export


# -- POST /v1/events ----------------------------------------------------------------------------
@answers_json_errors
async def ingest(request: Request) -> Response:
    use_bus(getattr(request.app.state, "bus", None))  # live usage goes out after each commit
    principal = await principal_for(request, Permission.USAGE_INGEST)
    body = await read_body(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in NDJSON_TYPES:
        events, positions, errors = parse_ndjson(body)
    else:
        events = parse_json(body)
        positions, errors = list(range(len(events))), []
    del body
    answer = await record_in_chunks(
        events,
        positions,
        errors,
        record=lambda chunk: ingest_events(principal, chunk),
        chunk=MAX_EVENTS_PER_CALL,
        key="transactionId",
        id_of=lambda outcome: outcome.transaction_id,
    )
    return json_response(answer)


# -- GET /v1/exports/... ------------------------------------------------------------------------
EVENT_COLUMNS = ("transaction_id", "customer", "subscription", "metric", "timestamp", "properties")
PERIOD_COLUMNS = tuple(
    "subscription charge period_start period_end status group events total maximum latest "
    "unique billed_minor".split()
)
_FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9_.-]")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _instant(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Problem(
            400, "INVALID_PARAMETER", f"{name} must be an ISO 8601 date or time", field=name
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _cell(value: Any) -> Any:
    """A CSV cell: times in ISO 8601, objects as JSON text, and text a spreadsheet would
    run as a formula (a transaction id starting with `=`) quoted with a leading `'`."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, str) and value.startswith(_FORMULA):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


async def _csv(
    columns: tuple[str, ...], first: dict[str, Any] | None, rows: AsyncIterator[dict[str, Any]]
) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_camel(c) for c in columns])
    if first is not None:
        writer.writerow([_cell(first.get(c)) for c in columns])
        count = 1
        async for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
            count += 1
            if count % _FLUSH_ROWS == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def _json_row(columns: tuple[str, ...], row: dict[str, Any]) -> bytes:
    return orjson.dumps({_camel(c): row.get(c) for c in columns}, default=str)


async def _json_array(
    columns: tuple[str, ...], first: dict[str, Any] | None, rows: AsyncIterator[dict[str, Any]]
) -> AsyncIterator[bytes]:
    if first is None:
        yield b"[]"
        return
    chunk = [b"[" + _json_row(columns, first)]
    async for row in rows:
        chunk.append(_json_row(columns, row))
        if len(chunk) >= _FLUSH_ROWS:
            yield b",".join(chunk)
            chunk = [b""]  # the next chunk starts with the comma after this one
    yield b",".join(chunk) + b"]"


async def _export(
    request: Request,
    name: str,
    columns: tuple[str, ...],
    open_rows: Callable[[Principal, str], AsyncIterator[dict[str, Any]]],
) -> Response:
    fmt = request.path_params["format"]
    if fmt not in _FORMATS:
        raise Problem(404, "NOT_FOUND", "exports are .csv or .json")
    principal = await principal_for(request, Permission.USAGE_READ)
    customer_ref = request.query_params.get("customerId")
    if not customer_ref:
        raise Problem(400, "MISSING_PARAMETER", "give customerId", field="customerId")
    rows = open_rows(principal, customer_ref)
    # The first row is read here, so that an unknown customer (or another customer
    # than the token's) is a 404, not an error in the middle of a 200 stream.
    try:
        first: dict[str, Any] | None = await rows.__anext__()
    except StopAsyncIteration:
        first = None
    stream = (_csv if fmt == "csv" else _json_array)(columns, first, rows)
    filename = f"{name}-{_UNSAFE_FILENAME.sub('_', customer_ref)}.{fmt}"
    return StreamingResponse(
        stream,
        media_type=_FORMATS[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@answers_json_errors
async def export_usage_events(request: Request) -> Response:
    """`GET /v1/exports/usage-events.{csv|json}?customerId=&since=&until=`."""
    since, until = _instant(request, "since"), _instant(request, "until")
    return await _export(
        request,
        "usage-events",
        EVENT_COLUMNS,
        lambda principal, ref: export_events(principal, ref, since=since, until=until),
    )


@answers_json_errors
async def export_usage_periods(request: Request) -> Response:
    """`GET /v1/exports/usage-periods.{csv|json}?customerId=`."""
    return await _export(request, "usage-periods", PERIOD_COLUMNS, export_periods)
