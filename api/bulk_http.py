"""The machinery of the bulk JSON endpoints beside /graphql (`POST /v1/events`,
`POST /v1/reads`): Bearer-key authentication before the body is read, a body read
with a size limit (gzip inflated under the same limit), JSON arrays or NDJSON, items
recorded in chunks through one domain call each, and whole-request failures as
`{"error": {"code", "message"}}` with their HTTP status."""

from __future__ import annotations

import functools
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.web_auth import CsrfRefused, request_token
from domain.availability import database_unavailable
from domain.errors import AuthenticationError, BillingError, NotFoundError, PermissionDeniedError
from domain.tenancy.access import Permission, Principal
from domain.tenancy.api_keys import authenticate
from schema.error_policy import DATABASE_MESSAGE, DATABASE_UNAVAILABLE

MAX_BODY = 50 * 1024 * 1024  # bytes, after decompression
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})
_GZIP = frozenset({"gzip", "x-gzip"})


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
        return json_response(body, self.status, headers)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/json")


def too_large() -> Problem:
    message = f"the body exceeds {MAX_BODY // (1024 * 1024)} MB (decompressed): send at most "
    message += f"{MAX_BODY} bytes per request, or split the items over several"
    return Problem(413, "PAYLOAD_TOO_LARGE", message, limit=MAX_BODY)


async def principal_for(request: Request, permission: Permission) -> Principal:
    try:
        token = request_token(request, needs_csrf=request.method not in ("GET", "HEAD"))
    except CsrfRefused:
        raise Problem(403, CsrfRefused.code, CsrfRefused.message) from None
    if token is None:
        raise Problem(401, "UNAUTHENTICATED", "send Authorization: Bearer <API key>")
    try:
        principal = (await authenticate(token)).principal
    except AuthenticationError as exc:
        raise Problem(401, exc.code, exc.message) from None
    principal.require(permission)  # before the body is read
    return principal


Handler = Callable[[Request], Awaitable[Response]]


def answers_json_errors(handler: Handler) -> Handler:
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
                raise too_large()
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
        raise too_large()
    inflater = _Gunzip(limit) if encoding in _GZIP else None
    body = bytearray()
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise too_large()
        if inflater is not None:
            inflater.feed(chunk, body)
        else:
            body += chunk
    if inflater is not None:
        inflater.finish()
    return body


def _invalid_json(exc: orjson.JSONDecodeError, prefix: str = "") -> str:
    return f"{prefix}malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"


def parse_json(body: bytes | bytearray, items: str = "events") -> list[Any]:
    """A JSON array of items or `{"<items>": [...]}`."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(
            400, "INVALID_JSON", _invalid_json(exc), position=exc.pos, line=exc.lineno
        ) from None
    if isinstance(document, dict) and set(document) == {items}:
        document = document[items]
    if not isinstance(document, list):
        raise Problem(
            400, "INVALID_BODY", f'send a JSON array of {items}, {{"{items}": [...]}}, or NDJSON'
        )
    return document


def parse_ndjson(
    body: bytes | bytearray, key: str = "transactionId"
) -> tuple[list[Any], list[int], list[dict[str, Any]]]:
    """One item per line: the items, the line number of each, and the lines that are
    not JSON (reported, while the others go on; `key` names the items' own id)."""
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
            errors.append(item_error(number, key, None, "INVALID_JSON", message, None))
            continue
        lines.append(number)
    return events, lines, errors


def item_error(
    index: int, key: str, item_id: str | None, code: str, message: str, field: str | None
) -> dict[str, Any]:
    """One refused item: its position, its own id (`transactionId`, `requestId`)."""
    return {"index": index, key: item_id, "code": code, "message": message, "field": field}


class Outcome(Protocol):
    index: int
    status: str
    error: BillingError | None


async def record_in_chunks(
    items: list[Any],
    positions: list[int],
    errors: list[dict[str, Any]],
    *,
    record: Callable[[list[Any]], Awaitable[Any]],
    chunk: int,
    key: str,
    id_of: Callable[[Any], str | None],
) -> dict[str, Any]:
    """`record` (one domain call, one transaction) over `chunk` items at a time, so a
    large body is stored in pieces and a resend after a failure part-way is safe;
    the counts and the refused items, by position in the body."""
    accepted = duplicates = 0
    rejected = len(errors)
    for start in range(0, len(items), chunk):
        report = await record(items[start : start + chunk])
        for outcome in report.outcomes:
            if outcome.status == "ACCEPTED":
                accepted += 1
            elif outcome.status == "DUPLICATE":
                duplicates += 1
            else:
                rejected += 1
                exc = outcome.error
                assert exc is not None  # a refused item always says why
                position = positions[start + outcome.index]
                errors.append(
                    item_error(position, key, id_of(outcome), exc.code, exc.message, exc.field)
                )
    errors.sort(key=lambda e: e["index"])
    return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected, "errors": errors}
