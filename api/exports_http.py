"""`GET /exports/{kind}.{csv|json|xlsx}`: a tenant's rows, streamed (issue 17).

Kinds: customers, subscriptions, invoices, payments, credit-ledger, usage,
royalty-statements, mrr-movements. Filters are query parameters (`from`, `to`,
`customer`, `status`, `currency`, … per kind: domain/reports/kinds.py); see
docs/ANALYTICS.md. An API key with analytics:read (admin, analyst) reads its own
tenant's rows.

Everything that can refuse the request is checked before the 200 goes out: the
kind and format (404), the key (401), its permission (403), every filter (400, or
404 for an id the tenant does not have) and the first batch of rows (503 when the
database is down). The body then streams batch by batch; a failure after that can
only cut the stream short, which a client sees as an incomplete response. Errors are
`{"error": {"code", "message", "field"}}`, as the other endpoints beside /graphql.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from api.bulk_http import Problem, answers_json_errors, principal_for
from domain import clock
from domain.reports.exports import open_export
from domain.reports.formats import MEDIA_TYPES, open_stream
from domain.reports.kinds import KINDS
from domain.tenancy.access import Permission


@answers_json_errors
async def export(request: Request) -> Response:
    kind, dot, fmt = request.path_params["name"].rpartition(".")
    if not dot or kind not in KINDS or fmt not in MEDIA_TYPES:
        raise Problem(
            404,
            "NOT_FOUND",
            f"exports are /exports/{{kind}}.{{{'|'.join(MEDIA_TYPES)}}}; kinds: {', '.join(KINDS)}",
        )
    principal = await principal_for(request, Permission.ANALYTICS_READ)
    found = await open_export(principal, kind, request.query_params.multi_items())
    body = await open_stream(found, fmt)  # the first batch is read before the 200
    filename = f"{kind}-{clock.now():%Y-%m-%d}.{fmt}"
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
