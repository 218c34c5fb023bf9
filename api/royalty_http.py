"""`POST /v1/reads` (issue 16): reads of works in bulk, beside /graphql.

The same conventions as `POST /v1/events` (api/usage_http.py): a JSON array of reads,
`{"reads": [...]}`, or NDJSON (`Content-Type: application/x-ndjson`, one read per
line, blank lines skipped), optionally `Content-Encoding: gzip`, at most 50 MB once
decompressed; a Bearer API key whose role may record reads (admin, service). Each
read is an object as `domain.royalties.reads` documents it:

    {"requestId": "r-1", "workId": "wrk_…", "count": 3,
     "occurredAt": "2026-11-03T10:00:00Z", "customerId": "cus_…"}

stored 1,000 per transaction, each keyed by its requestId, so resending a body after
a failure part-way (503) is safe. It answers 200 whenever the body could be read:

    {"accepted": 998, "duplicates": 1, "rejected": 1,
     "errors": [{"index": 7, "requestId": "r-7", "code": "UNKNOWN_WORK",
                 "message": "...", "field": "workId"}]}

`index` is the read's position in the array (for NDJSON, its 0-based line number).
Whole-request failures are `{"error": {"code", "message"}}` with 400 (INVALID_JSON,
INVALID_BODY, INVALID_GZIP), 401, 403, 413, 415 or 503, as for events.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.usage_http import (
    NDJSON_TYPES,
    Problem,
    _answers_json_errors,
    _json,
    _principal,
    parse_ndjson,
    read_body,
)
from domain.royalties.reads import ACCEPTED, DUPLICATE, MAX_READS_PER_CALL, record_reads
from domain.tenancy.access import Permission, Principal


def parse_reads(body: bytes | bytearray) -> list[Any]:
    """A JSON array of reads or `{"reads": [...]}`."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        message = f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        raise Problem(400, "INVALID_JSON", message, position=exc.pos, line=exc.lineno) from None
    if isinstance(document, dict) and set(document) == {"reads"}:
        document = document["reads"]
    if not isinstance(document, list):
        raise Problem(
            400, "INVALID_BODY", 'send a JSON array of reads, {"reads": [...]}, or NDJSON'
        )
    return document


def _error(index: int, request_id: str | None, code: str, message: str, field: str | None) -> dict:
    return {
        "index": index,
        "requestId": request_id,
        "code": code,
        "message": message,
        "field": field,
    }


@_answers_json_errors
async def record(request: Request) -> Response:
    """`POST /v1/reads`."""
    principal = await _principal(request, Permission.ROYALTIES_READS)
    body = await read_body(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in NDJSON_TYPES:
        reads, positions, events_errors = parse_ndjson(body)
        # parse_ndjson names the key of events; a read's is requestId.
        errors = [
            _error(e["index"], None, e["code"], e["message"], e["field"]) for e in events_errors
        ]
    else:
        reads = parse_reads(body)
        positions, errors = list(range(len(reads))), []
    del body
    return _json(await _record_chunks(principal, reads, positions, errors))


async def _record_chunks(
    principal: Principal, reads: list[Any], positions: list[int], errors: list[dict[str, Any]]
) -> dict[str, Any]:
    accepted = duplicates = 0
    rejected = len(errors)
    for start in range(0, len(reads), MAX_READS_PER_CALL):
        report = await record_reads(principal, reads[start : start + MAX_READS_PER_CALL])
        for outcome in report.outcomes:
            if outcome.status == ACCEPTED:
                accepted += 1
            elif outcome.status == DUPLICATE:
                duplicates += 1
            else:
                rejected += 1
                exc = outcome.error
                assert exc is not None  # a refused read always says why
                position = positions[start + outcome.index]
                errors.append(
                    _error(position, outcome.request_id, exc.code, exc.message, exc.field)
                )
    errors.sort(key=lambda e: e["index"])
    return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected, "errors": errors}
