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

from starlette.requests import Request
from starlette.responses import Response

from api.bulk_http import (
    NDJSON_TYPES,
    answers_json_errors,
    json_response,
    parse_json,
    parse_ndjson,
    principal_for,
    read_body,
    record_in_chunks,
)
from domain.royalties.reads import MAX_READS_PER_CALL, record_reads
from domain.tenancy.access import Permission

KEY = "requestId"


@answers_json_errors
async def record(request: Request) -> Response:
    """`POST /v1/reads`."""
    principal = await principal_for(request, Permission.ROYALTIES_READS)
    body = await read_body(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in NDJSON_TYPES:
        reads, positions, errors = parse_ndjson(body, KEY)
    else:
        reads = parse_json(body, "reads")
        positions, errors = list(range(len(reads))), []
    del body
    answer = await record_in_chunks(
        reads,
        positions,
        errors,
        record=lambda chunk: record_reads(principal, chunk),
        chunk=MAX_READS_PER_CALL,
        key=KEY,
        id_of=lambda outcome: outcome.request_id,
    )
    return json_response(answer)
