"""Who a request is: a bearer API key, or a web panel's session cookie (issue 18).

The cookie holds a session key (domain/tenancy/web_sessions.py), so it authenticates
exactly like a bearer key. A request that changes state with it, and every /graphql
request or WebSocket that uses it, must also present the session's CSRF token (the
`X-CSRF-Token` header, or `csrfToken` in graphql-transport-ws's connection_init
payload): a page on another site can make the browser send the cookie (SameSite
Strict already stops that in current browsers), never read the token."""

from __future__ import annotations

from typing import Any

from domain.tenancy.web_sessions import csrf_matches

SESSION_COOKIE = "tally_session"
CSRF_HEADER = "x-csrf-token"


class CsrfRefused(Exception):
    code = "CSRF_REFUSED"
    message = "a request made with the session cookie must carry its X-CSRF-Token"


def bearer_token(headers: Any) -> str | None:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def session_token(cookies: Any) -> str | None:
    return cookies.get(SESSION_COOKIE) or None


def socket_token(params: dict[str, Any], websocket: Any) -> str | None:
    """The key a graphql-transport-ws connection authenticates with: `Authorization`
    in connection_init's payload (with or without "Bearer "), else the handshake's
    bearer header, else the session cookie with `csrfToken` in the payload."""
    raw = params.get("Authorization") or params.get("authorization")
    if isinstance(raw, str) and raw.strip():
        return bearer_token({"authorization": raw}) or raw.strip()
    token = bearer_token(websocket.headers)
    if token is not None:
        return token
    cookie = session_token(websocket.cookies)
    if cookie is not None and not csrf_matches(cookie, params.get("csrfToken")):
        raise CsrfRefused
    return cookie


def request_token(request: Any, *, needs_csrf: bool) -> str | None:
    """The key a request authenticates with: its bearer key, else its session cookie
    (with the CSRF token when `needs_csrf`); None when it has neither."""
    token = bearer_token(request.headers)
    if token is not None:
        return token
    cookie = session_token(request.cookies)
    if cookie is None:
        return None
    if needs_csrf and not csrf_matches(cookie, request.headers.get(CSRF_HEADER)):
        raise CsrfRefused
    return cookie
