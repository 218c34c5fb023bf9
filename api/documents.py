"""`GET /invoices/{id}.pdf` and `GET /credit-notes/{id}.pdf`: an admin or service key,
or the customer's own token (anyone else's document reads as missing)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.web_auth import request_token
from domain.availability import database_unavailable
from domain.errors import AuthenticationError, BillingError, NotFoundError, ValidationError
from domain.invoicing.documents import credit_note_pdf, invoice_pdf
from domain.tenancy.access import Principal
from domain.tenancy.api_keys import authenticate
from schema.error_policy import DATABASE_MESSAGE, DATABASE_UNAVAILABLE

Render = Callable[[Principal, str], Awaitable[tuple[str, bytes]]]


def _problem(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="tally"'} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


async def _serve(request: Request, render: Render) -> Response:
    token = request_token(request, needs_csrf=False)  # a GET: reads only
    if token is None:
        return _problem(401, "UNAUTHENTICATED", "send Authorization: Bearer <API key>")
    try:
        auth = await authenticate(token)
        filename, body = await render(auth.principal, request.path_params["id"])
    except AuthenticationError as exc:
        return _problem(401, exc.code, exc.message)
    except (NotFoundError, ValidationError) as exc:
        return _problem(404, "NOT_FOUND", exc.message)
    except BillingError as exc:
        return _problem(403, exc.code, exc.message)
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        response = _problem(503, DATABASE_UNAVAILABLE, DATABASE_MESSAGE)
        response.headers["Retry-After"] = "5"
        return response
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


async def invoice_document(request: Request) -> Response:
    return await _serve(request, invoice_pdf)


async def credit_note_document(request: Request) -> Response:
    return await _serve(request, credit_note_pdf)
