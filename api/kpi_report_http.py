"""`GET /v1/kpi-reports/{YYYY-MM}.pdf`: the monthly KPI report of the caller's tenant
as a PDF in the tenant's language, for admin and analyst keys (analytics:read).
Errors are `{"error": {"code", "message"}}` with 401, 403, 404 or 503, like the
invoice and royalty statement documents beside it: a malformed month, or one that
has not started, has no report (404)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.graphql_app import bearer_token
from domain.availability import database_unavailable
from domain.errors import (
    AuthenticationError,
    BillingError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from domain.reports.kpi_report import kpi_report_file
from domain.tenancy.api_keys import authenticate
from schema.error_policy import DATABASE_MESSAGE, DATABASE_UNAVAILABLE


def _problem(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="tally"'} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


async def kpi_report_document(request: Request) -> Response:
    token = bearer_token(request.headers)
    if token is None:
        return _problem(401, "UNAUTHENTICATED", "send Authorization: Bearer <API key>")
    try:
        auth = await authenticate(token)
        body, content_type, filename = await kpi_report_file(
            auth.principal, request.path_params["month"]
        )
    except AuthenticationError as exc:
        return _problem(401, exc.code, exc.message)
    except (NotFoundError, ValidationError) as exc:  # no such month (yet): no report
        return _problem(404, exc.code, exc.message)
    except PermissionDeniedError as exc:
        return _problem(403, exc.code, exc.message)
    except BillingError as exc:
        return _problem(400, exc.code, exc.message)
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        response = _problem(503, DATABASE_UNAVAILABLE, DATABASE_MESSAGE)
        response.headers["Retry-After"] = "5"
        return response
    return Response(
        body,
        media_type=content_type,
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
