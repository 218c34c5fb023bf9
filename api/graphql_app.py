"""GraphQL over HTTP and WebSocket: API-key authentication, the per-request context,
and the GraphQL-over-HTTP media types and status codes on top of Strawberry's view."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from api.context import Context
from api.graphql_ws import TextWebSocketAdapter, TransportWSHandler
from api.live_groups import LiveGroups
from api.schema import MAX_TOKENS, state_feeds
from api.web_auth import CsrfRefused, request_token, socket_token
from domain.availability import database_unavailable
from domain.errors import AuthenticationError
from domain.events.bus import EventBus
from domain.tenancy.api_keys import authenticate
from domain.unit_of_work import use_bus
from schema.error_policy import DATABASE_MESSAGE, DATABASE_UNAVAILABLE, shorten

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
GRAPHIQL_ASSETS = Path(__file__).parent / "static" / "graphiql"
MAX_BODY = 2**20  # 1 MB: far above any real document with its variables
log = logging.getLogger("tally.http")


def negotiate(accept: str | None) -> str | None:
    """GraphQL-over-HTTP media type for an Accept header; None when neither is acceptable.

    A client that names no type (no Accept, `*/*` as curl sends, `application/*`) gets
    `application/json`, as the specification says it SHOULD: such a client may not
    know the newer type, and with it a validation error is a 200 it can read rather
    than a 400. `application/graphql-response+json` is for clients that ask for it."""
    if not accept:
        return JSON
    ranges: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        ranges.append((-q, index, media.lower()))
    for neg_q, _, media in sorted(ranges):
        if neg_q == 0:
            break
        if media == GRAPHQL_RESPONSE:
            return GRAPHQL_RESPONSE
        if media in (JSON, "*/*", "application/*"):
            return JSON
    return None


class TallyGraphQL(GraphQL):
    """Strawberry's ASGI view with API-key authentication and the GraphQL-over-HTTP
    media type and status codes (400 for requests that never execute)."""

    websocket_adapter_class = TextWebSocketAdapter  # type: ignore[assignment]
    graphql_transport_ws_handler_class = TransportWSHandler  # type: ignore[assignment]

    def __init__(self, *args: Any, bus: EventBus, send_buffer: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bus = bus
        self.send_buffer = send_buffer  # bytes a socket may leave unread (then 4408)
        self.live = LiveGroups()
        self.max_tokens = MAX_TOKENS
        self.state_feeds = state_feeds(self.schema)  # not grouped (api/live_groups.py)

    def encode_json(self, data: object) -> bytes:  # type: ignore[override]
        return orjson.dumps(data)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        media = negotiate(request.headers.get("accept"))
        if media is None and not _wants_ide(request):
            await _error(406, "Accept application/graphql-response+json or application/json", JSON)(
                scope, receive, send
            )
            return
        if len(scope.get("query_string", b"")) > MAX_BODY:  # a GET carries its document there
            await _error(414, f"The query string is over {MAX_BODY // 2**20} MB", media or JSON)(
                scope, receive, send
            )
            return
        if request.method == "POST" and not await read_body_within(request, MAX_BODY):
            await _error(413, f"The request body is over {MAX_BODY // 2**20} MB", media or JSON)(
                scope, receive, send
            )
            return
        try:
            response = await self.run(request)
        except HTTPException as exc:
            response = _http_error(exc, media or JSON)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.warning("database unavailable: %s", shorten(repr(exc)))
            response = _error(503, DATABASE_MESSAGE, media or JSON, {"Retry-After": "5"})
        await response(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        # orjson refuses nesting past 1,024 levels with a JSONDecodeError (a 400);
        # the standard library recursed until RecursionError, a plain-text 500.
        return orjson.loads(data)

    async def parse_http_body(self, request: Any) -> Any:
        """A POSTed JSON body must be one request object; Strawberry assumed it and
        answered `null`, `42`, `"x"` or `true` with a 500."""
        if request.method == "POST" and "json" in (request.content_type or ""):
            data = self.parse_json(await request.get_body())
            if not isinstance(data, dict):
                raise HTTPException(
                    400, "The request body must be a JSON object with a `query` string"
                )
            operation = data.get("operationName")
            if not isinstance(operation, str | None):
                raise HTTPException(400, "`operationName` must be a string or null")
        return await super().parse_http_body(request)

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(_graphiql_page())

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:  # type: ignore[override]
        ctx = Context(request=request, response=response, bus=self.bus)
        use_bus(self.bus)  # where the domain's operations announce what they committed
        if isinstance(request, WebSocket) or _wants_ide(request):
            return ctx  # WebSockets authenticate in connection_init; GraphiQL needs no key
        try:
            token = request_token(request, needs_csrf=True)
        except CsrfRefused:
            raise HTTPException(403, CsrfRefused.message) from None
        if token is None:
            raise HTTPException(401, "Send an API key: Authorization: Bearer <key>")
        try:
            ctx.sign_in(await authenticate(token), request.headers.get("accept-language"))
        except AuthenticationError as exc:
            raise HTTPException(401, exc.message) from None
        return ctx

    async def on_ws_connect(self, context: Context) -> Any:  # type: ignore[override]
        try:
            token = socket_token(context.connection_params or {}, context.request)
        except CsrfRefused:
            raise ConnectionRejectionError({"message": CsrfRefused.message}) from None
        if token is None:
            raise ConnectionRejectionError({"message": "missing API key"})
        try:
            auth = await authenticate(token)
        except AuthenticationError:
            raise ConnectionRejectionError({"message": "invalid API key"}) from None
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.warning("database unavailable: %s", shorten(repr(exc)))
            # Rejected with a reason a client can act on, not an abnormal close.
            raise ConnectionRejectionError(
                {"message": DATABASE_MESSAGE, "code": DATABASE_UNAVAILABLE}
            ) from None
        context.sign_in(auth, context.request.headers.get("accept-language"))
        return None

    async def get_sub_response(self, request: Request | WebSocket) -> Response:  # type: ignore[override]
        sub = await super().get_sub_response(request)
        sub.tally_media = negotiate(request.headers.get("accept")) or JSON  # type: ignore[attr-defined]
        request.state.sub_response = sub
        return sub

    async def process_result(self, request: Request, result: Any) -> Any:  # type: ignore[override]
        data = await super().process_result(request, result)
        errors = result.errors or ()
        request_error = result.data is None and any(e.path is None for e in errors)
        sub = request.state.sub_response
        if request_error:
            data.pop("data", None)  # a request error carries no data entry at all
            if sub.tally_media == GRAPHQL_RESPONSE:
                sub.status_code = 400
        if any((e.extensions or {}).get("code") == DATABASE_UNAVAILABLE for e in errors):
            sub.status_code = 503
            sub.headers["Retry-After"] = "5"
        return data

    def create_response(self, response_data: Any, sub_response: Response) -> Response:  # type: ignore[override]
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = getattr(sub_response, "tally_media", JSON)
        return response


@cache
def _graphiql_page() -> str:
    # Strawberry's page with its assets served by Tally (see static/graphiql/NOTICE.md).
    return (GRAPHIQL_ASSETS / "index.html").read_text(encoding="utf-8")


def _wants_ide(request: Request) -> bool:
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and "query" not in request.query_params
    )


async def read_body_within(request: Request, limit: int) -> bool:
    """Reads the body up to `limit` bytes (kept for `request.body()`); False when it
    is larger, whether Content-Length says so or a chunked body runs past it, without
    reading the rest."""
    try:
        if int(request.headers.get("content-length") or 0) > limit:
            return False
    except ValueError:
        return False
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return False
        chunks.append(chunk)
    request._body = b"".join(chunks)
    return True


_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: CsrfRefused.code,
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    414: "URI_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
    503: DATABASE_UNAVAILABLE,
}


def _error(
    status: int, message: str, media: str, headers: dict[str, str] | None = None
) -> Response:
    code = _CODES.get(status, "ERROR")
    body = {"errors": [{"message": shorten(message), "extensions": {"code": code}}]}
    return Response(orjson.dumps(body), status_code=status, media_type=media, headers=headers)


def _http_error(exc: HTTPException, media: str) -> Response:
    status, reason, headers = exc.status_code, exc.reason, {}
    if reason == "Unsupported content type":
        status, reason = 415, "Send application/json (or a GET with query parameters)"
    elif "not allowed when using GET" in reason:
        status, headers = 405, {"Allow": "POST"}
    elif status == 405:
        headers = {"Allow": "GET, POST"}
    elif status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="tally"'}
    return _error(status, reason, media, headers)
