"""`POST /webhooks/{stripe|sandbox}/{tenantId}`: the HTTP side of provider webhooks.

400 for anything unsigned, badly signed, stale or unparseable (nothing stored);
200 once stored and applied, or for a duplicate; 500 when applying failed (the
transaction rolled back, so the provider's retry starts clean).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from api.graphql_app import read_body_within
from domain.payments.provider_webhooks import receive
from domain.payments.providers.base import SignatureError
from domain.unit_of_work import use_bus

log = logging.getLogger("tally.provider_webhooks")
MAX_BODY = 512 * 1024


async def provider_webhook(request: Request) -> JSONResponse:
    provider = request.path_params["provider"]
    tenant = request.path_params["tenant"]
    if not await read_body_within(request, MAX_BODY):  # stops reading past the limit
        return JSONResponse({"error": "payload too large"}, status_code=413)
    body = await request.body()
    try:
        use_bus(getattr(request.app.state, "bus", None))  # live metrics after a payment
        receipt = await receive(provider, tenant, body, request.headers.get("stripe-signature"))
    except SignatureError as exc:
        return JSONResponse({"error": exc.message}, status_code=400)
    except Exception:
        log.exception("provider webhook for %s could not be applied", tenant)
        return JSONResponse({"error": "processing failed; retry"}, status_code=500)
    return JSONResponse(
        {"received": True, "id": receipt.event_id, "outcome": receipt.outcome, "note": receipt.note}
    )
