"""`GET /v1/royalty-statements/{id}.pdf` and `.csv`: a royalty statement as a document,
for an admin key or the payee's own token (another payee's statement reads as
missing, as invoices do for customer tokens). Errors are `{"error": {"code",
"message"}}` with 401, 403, 404 or 503, like the invoice PDFs beside it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.downloads import download, problem
from domain.royalties.documents import statement_file


async def royalty_statement_document(request: Request) -> Response:
    fmt = request.path_params["format"]
    if fmt not in ("pdf", "csv"):
        return problem(404, "NOT_FOUND", "statements are served as .pdf or .csv")
    # A PDF opens in the browser; a CSV is saved, as spreadsheets expect.
    return await download(
        request,
        lambda principal: statement_file(principal, request.path_params["id"], fmt),
        disposition="inline" if fmt == "pdf" else "attachment",
        missing_code="NOT_FOUND",  # a malformed id is a missing one
    )
