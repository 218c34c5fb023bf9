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
import functools
import io
import re
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from api.graphql_app import bearer_token
from domain.availability import database_unavailable
from domain.errors import AuthenticationError, BillingError, NotFoundError, PermissionDeniedError
from domain.tenancy.access import Permission, Principal
from domain.tenancy.api_keys import authenticate
from domain.unit_of_work import use_bus
from domain.usage.ingest import ACCEPTED, DUPLICATE, ingest_events
from domain.usage.queries import export_events, export_periods
from domain.usage.requests import MAX_EVENTS_PER_CALL
from schema.error_policy import DATABASE_MESSAGE, DATABASE_UNAVAILABLE

MAX_BODY = 50 * 1024 * 1024  # bytes, after decompression
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})
_GZIP = frozenset({"gzip", "x-gzip"})
_FLUSH_ROWS = 500  # rows per chunk of a streamed export


class Problem(Exception):
    """A whole request refused: its status and `{"error": {...}}` body."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> Response:
        body = {"error": {"code": self.code, "message": self.message, **self.extra}}
        headers = {"WWW-Authenticate": 'Bearer realm="tally"'} if self.status == 401 else {}
        if self.status == 503:
            headers["Retry-After"] = "5"
        return _json(body, self.status, headers)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/json")


def _too_large() -> Problem:
    message = f"the body exceeds {MAX_BODY // (1024 * 1024)} MB (decompressed): send at most "
    message += f"{MAX_BODY} bytes per request, or split the events over several"
    return Problem(413, "PAYLOAD_TOO_LARGE", message, limit=MAX_BODY)


async def _principal(request: Request, permission: Permission) -> Principal:
    token = bearer_token(request.headers)
    if token is None:
        raise Problem(401, "UNAUTHENTICATED", "send Authorization: Bearer <API key>")
    try:
        principal = (await authenticate(token)).principal
    except AuthenticationError as exc:
        raise Problem(401, exc.code, exc.message) from None
    principal.require(permission)  # before the body is read
    return principal


Handler = Callable[[Request], Awaitable[Response]]


def _answers_json_errors(handler: Handler) -> Handler:
    """Whole-request failures as `{"error": ...}` with their status; the database
    unreachable as 503 DATABASE_UNAVAILABLE (as api/documents.py), anything else raised."""

    @functools.wraps(handler)
    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except Problem as problem:
            return problem.response()
        except BillingError as exc:  # refused as a whole (a key's role, a missing customer)
            status = 403 if isinstance(exc, PermissionDeniedError) else 400
            status = 404 if isinstance(exc, NotFoundError) else status
            return Problem(status, exc.code, exc.message, field=exc.field).response()
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            return Problem(503, DATABASE_UNAVAILABLE, DATABASE_MESSAGE).response()

    return answer


# -- reading the body ---------------------------------------------------------------------------
class _Gunzip:
    """Inflates gzip members (several may follow each other) into `out`, never letting
    it grow past `limit`: each step asks zlib for at most one byte more than the room
    left, so a small bomb stops at the limit instead of filling memory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes, out: bytearray) -> None:
        while data:
            try:
                out += self.inflater.decompress(data, self.limit - len(out) + 1)
            except zlib.error as exc:
                raise Problem(400, "INVALID_GZIP", f"the body is not valid gzip: {exc}") from None
            if len(out) > self.limit:
                raise _too_large()
            if self.inflater.eof:
                data = self.inflater.unused_data
                if data:
                    self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                data = self.inflater.unconsumed_tail

    def finish(self) -> None:
        if not self.inflater.eof:
            raise Problem(400, "INVALID_GZIP", "the gzip body is truncated")


async def read_body(request: Request, limit: int = MAX_BODY) -> bytearray:
    """The (decompressed) body, refused with 413 as soon as it passes `limit`: neither
    the bytes received nor the bytes inflated are held beyond it."""
    encoding = (request.headers.get("content-encoding") or "identity").strip().lower()
    if encoding not in _GZIP and encoding != "identity":
        raise Problem(415, "UNSUPPORTED_ENCODING", "Content-Encoding may be gzip or identity")
    try:
        declared = int(request.headers.get("content-length") or 0)
    except ValueError:
        raise Problem(400, "INVALID_BODY", "Content-Length is not a number") from None
    if declared > limit:
        raise _too_large()
    inflater = _Gunzip(limit) if encoding in _GZIP else None
    body = bytearray()
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise _too_large()
        if inflater is not None:
            inflater.feed(chunk, body)
        else:
            body += chunk
    if inflater is not None:
        inflater.finish()
    return body


def _invalid_json(exc: orjson.JSONDecodeError, prefix: str = "") -> str:
    return f"{prefix}malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"


def parse_json(body: bytes | bytearray) -> list[Any]:
    """A JSON array of events or `{"events": [...]}`."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(
            400, "INVALID_JSON", _invalid_json(exc), position=exc.pos, line=exc.lineno
        ) from None
    if isinstance(document, dict) and set(document) == {"events"}:
        document = document["events"]
    if not isinstance(document, list):
        raise Problem(
            400, "INVALID_BODY", 'send a JSON array of events, {"events": [...]}, or NDJSON'
        )
    return document


def parse_ndjson(body: bytes | bytearray) -> tuple[list[Any], list[int], list[dict[str, Any]]]:
    """One event per line: the events, the line number of each, and the lines that are
    not JSON (reported, while the others go on)."""
    events: list[Any] = []
    lines: list[int] = []
    errors: list[dict[str, Any]] = []
    for number, line in enumerate(body.split(b"\n")):
        if not line.strip():
            continue
        try:
            events.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            message = _invalid_json(exc, f"line {number + 1}: ")
            errors.append(_error(number, None, "INVALID_JSON", message, None))
            continue
        lines.append(number)
    return events, lines, errors


def _error(index: int, tx: str | None, code: str, message: str, field: str | None) -> dict:
    return {"index": index, "transactionId": tx, "code": code, "message": message, "field": field}


# -- POST /v1/events ----------------------------------------------------------------------------
@_answers_json_errors
async def ingest(request: Request) -> Response:
    use_bus(getattr(request.app.state, "bus", None))  # live usage goes out after each commit
    principal = await _principal(request, Permission.USAGE_INGEST)
    body = await read_body(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in NDJSON_TYPES:
        events, positions, errors = parse_ndjson(body)
    else:
        events = parse_json(body)
        positions, errors = list(range(len(events))), []
    del body
    return _json(await _ingest_chunks(principal, events, positions, errors))


async def _ingest_chunks(
    principal: Principal, events: list[Any], positions: list[int], errors: list[dict[str, Any]]
) -> dict[str, Any]:
    accepted = duplicates = 0
    rejected = len(errors)
    for start in range(0, len(events), MAX_EVENTS_PER_CALL):
        report = await ingest_events(principal, events[start : start + MAX_EVENTS_PER_CALL])
        for outcome in report.outcomes:
            if outcome.status == ACCEPTED:
                accepted += 1
            elif outcome.status == DUPLICATE:
                duplicates += 1
            else:
                rejected += 1
                exc = outcome.error
                assert exc is not None  # a refused event always says why
                position = positions[start + outcome.index]
                tx = outcome.transaction_id
                errors.append(_error(position, tx, exc.code, exc.message, exc.field))
    errors.sort(key=lambda e: e["index"])
    return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected, "errors": errors}


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
    principal = await _principal(request, Permission.USAGE_READ)
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


@_answers_json_errors
async def export_usage_events(request: Request) -> Response:
    """`GET /v1/exports/usage-events.{csv|json}?customerId=&since=&until=`."""
    since, until = _instant(request, "since"), _instant(request, "until")
    return await _export(
        request,
        "usage-events",
        EVENT_COLUMNS,
        lambda principal, ref: export_events(principal, ref, since=since, until=until),
    )


@_answers_json_errors
async def export_usage_periods(request: Request) -> Response:
    """`GET /v1/exports/usage-periods.{csv|json}?customerId=`."""
    return await _export(request, "usage-periods", PERIOD_COLUMNS, export_periods)
