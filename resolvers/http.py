"""GraphQL over HTTP and WebSocket: API-key authentication, the per-request context,
and the GraphQL-over-HTTP media types and status codes on top of Strawberry's view."""

from __future__ import annotations

from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected

from domain.errors import AuthenticationError
from domain.events.bus import EventBus
from domain.tenancy.api_keys import authenticate
from resolvers.context import Context

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def negotiate(accept: str | None) -> str | None:
    """GraphQL-over-HTTP media type for an Accept header; None when neither is acceptable."""
    if not accept:
        return GRAPHQL_RESPONSE
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
        if media == GRAPHQL_RESPONSE or media in ("*/*", "application/*"):
            return GRAPHQL_RESPONSE
        if media == JSON:
            return JSON
    return None


def bearer_token(headers: Any) -> str | None:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """graphql-transport-ws messages as text frames: Strawberry sends whatever
    `encode_json` returns, and bytes would go out as binary frames, which the npm
    graphql-ws client, Python's gql and browsers (as Blobs) all reject."""

    async def send_json(self, message: Any) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class TallyGraphQL(GraphQL):
    """Strawberry's ASGI view with API-key authentication and the GraphQL-over-HTTP
    media type and status codes (400 for requests that never execute)."""

    websocket_adapter_class = TextWebSocketAdapter  # type: ignore[assignment]

    def __init__(self, *args: Any, bus: EventBus, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bus = bus

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
        try:
            response = await self.run(request)
        except HTTPException as exc:
            response = _http_error(exc, media or JSON)
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:  # type: ignore[override]
        ctx = Context(request=request, response=response, bus=self.bus)
        if isinstance(request, WebSocket) or _wants_ide(request):
            return ctx  # WebSockets authenticate in connection_init; GraphiQL needs no key
        token = bearer_token(request.headers)
        if token is None:
            raise HTTPException(401, "Send an API key: Authorization: Bearer <key>")
        try:
            ctx.sign_in(await authenticate(token), request.headers.get("accept-language"))
        except AuthenticationError as exc:
            raise HTTPException(401, exc.message) from None
        return ctx

    async def on_ws_connect(self, context: Context) -> Any:  # type: ignore[override]
        params = context.connection_params or {}
        raw = params.get("Authorization") or params.get("authorization")
        token = None
        if isinstance(raw, str):
            token = bearer_token({"authorization": raw}) or raw.strip() or None
        token = token or bearer_token(context.request.headers)
        if token is None:
            raise ConnectionRejectionError({"message": "missing API key"})
        try:
            auth = await authenticate(token)
        except AuthenticationError:
            raise ConnectionRejectionError({"message": "invalid API key"}) from None
        context.sign_in(auth, context.request.headers.get("accept-language"))
        return None

    async def get_sub_response(self, request: Request | WebSocket) -> Response:  # type: ignore[override]
        sub = await super().get_sub_response(request)
        sub.tally_media = negotiate(request.headers.get("accept")) or JSON  # type: ignore[attr-defined]
        request.state.sub_response = sub
        return sub

    async def process_result(self, request: Request, result: Any) -> Any:  # type: ignore[override]
        data = await super().process_result(request, result)
        request_error = result.data is None and any(e.path is None for e in result.errors or ())
        if request_error:
            data.pop("data", None)  # a request error carries no data entry at all
            sub = request.state.sub_response
            if sub.tally_media == GRAPHQL_RESPONSE:
                sub.status_code = 400
        return data

    def create_response(self, response_data: Any, sub_response: Response) -> Response:  # type: ignore[override]
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = getattr(sub_response, "tally_media", JSON)
        return response


def _wants_ide(request: Request) -> bool:
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and "query" not in request.query_params
    )


_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def _error(
    status: int, message: str, media: str, headers: dict[str, str] | None = None
) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": _CODES.get(status, "ERROR")}}]}
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
