"""Authenticated document downloads beside `/graphql` (royalty statements, KPI
reports): the bearer key, then the document, with errors as `{"error": {"code",
"message"}}` and 401, 403, 404, 400 or 503, in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.web_auth import request_token
from domain.availability import database_unavailable
from domain.errors import (
    AuthenticationError,
    BillingError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from domain.tenancy.access import Principal
from domain.tenancy.api_keys import authenticate
from schema.error_policy import DATABASE_MESSAGE, DATABASE_UNAVAILABLE

Document = tuple[bytes, str, str]  # body, content type, file name


def problem(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="tally"'} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


async def download(
    request: Request,
    make: Callable[[Principal], Awaitable[Document]],
    *,
    disposition: str = "inline",
    missing_code: str | None = None,
) -> Response:
    """The document `make` returns for the caller's key. A malformed reference is a
    missing document (404, with `missing_code` or the error's own code)."""
    token = request_token(request, needs_csrf=False)  # a GET: reads only
    if token is None:
        return problem(401, "UNAUTHENTICATED", "send Authorization: Bearer <API key>")
    try:
        auth = await authenticate(token)
        body, content_type, filename = await make(auth.principal)
    except AuthenticationError as exc:
        return problem(401, exc.code, exc.message)
    except (NotFoundError, ValidationError) as exc:
        return problem(404, missing_code or exc.code, exc.message)
    except PermissionDeniedError as exc:
        return problem(403, exc.code, exc.message)
    except BillingError as exc:
        return problem(400, exc.code, exc.message)
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        response = problem(503, DATABASE_UNAVAILABLE, DATABASE_MESSAGE)
        response.headers["Retry-After"] = "5"
        return response
    return Response(
        body,
        media_type=content_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
