"""`GET /v1/royalty-statements/{id}.pdf` and `.csv`: a royalty statement as a document,
for an admin key or the payee's own token (another payee's statement reads as
missing, as invoices do for customer tokens). Errors are `{"error": {"code",
"message"}}` with 401, 403, 404 or 503, like the invoice PDFs beside it."""

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
from domain.royalties.documents import statement_file
from domain.tenancy.api_keys import authenticate
from schema.error_policy import DATABASE_MESSAGE, DATABASE_UNAVAILABLE


def _problem(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="tally"'} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


async def royalty_statement_document(request: Request) -> Response:
    fmt = request.path_params["format"]
    if fmt not in ("pdf", "csv"):
        return _problem(404, "NOT_FOUND", "statements are served as .pdf or .csv")
    token = bearer_token(request.headers)
    if token is None:
        return _problem(401, "UNAUTHENTICATED", "send Authorization: Bearer <API key>")
    try:
        auth = await authenticate(token)
        body, content_type, filename = await statement_file(
            auth.principal, request.path_params["id"], fmt
        )
    except AuthenticationError as exc:
        return _problem(401, exc.code, exc.message)
    except (NotFoundError, ValidationError) as exc:  # a malformed id is a missing one
        return _problem(404, "NOT_FOUND", exc.message)
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
    # A PDF opens in the browser; a CSV is saved, as spreadsheets expect.
    disposition = "inline" if fmt == "pdf" else "attachment"
    return Response(
        body,
        media_type=content_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
