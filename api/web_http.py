"""The web panels (issue 18): the customer portal at /portal and the admin console at
/admin, served by this process from api/static/web/ (no frontend server, no CDN).

Pages are static shells whose scripts call /graphql with the session cookie (see
api/web_auth.py); this module only signs in and out, says who the session is, and
serves the files with their security and cache headers:
- pages: a strict Content-Security-Policy (scripts and styles from this origin only,
  no inline script), no caching, no framing, no referrer (a portal link's secret
  must not leak);
- assets under /web/assets/<digest>/…, where the digest covers every file, so they
  are cached for a year and a new release changes their address.
"""

from __future__ import annotations

import functools
import hashlib
import html
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from api import web_sign_in
from api.context import pick_locale, public_base_url
from api.graphql_app import read_body_within
from api.web_auth import SESSION_COOKIE, CsrfRefused, request_token, session_token
from db.models import Customer
from domain import clock
from domain.errors import AuthenticationError
from domain.tenancy.access import Role
from domain.tenancy.api_keys import authenticate
from domain.tenancy.web_sessions import (
    ROLES,
    Panel,
    WebSession,
    csrf_token,
    redeem_portal_link,
    sign_in,
    sign_out,
)
from domain.validation import SUPPORTED_LOCALES

WEB = Path(__file__).parent / "static" / "web"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".json": "application/json"}


@functools.cache
def assets_digest() -> str:
    """One digest over every served file: their address changes when any does."""
    h = hashlib.sha256()
    for path in sorted(WEB.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(WEB).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


def _page(name: str, status: int = 200, **values: str) -> HTMLResponse:
    text = (
        (WEB / name)
        .read_text(encoding="utf-8")
        .replace("{{assets}}", f"/web/assets/{assets_digest()}")
    )
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", html.escape(value))
    return HTMLResponse(text, status, headers=PAGE_HEADERS)


async def asset(request: Request) -> Response:
    digest, path = request.path_params["digest"], request.path_params["path"]
    target = (WEB / path).resolve()
    if not target.is_relative_to(WEB.resolve()) or not target.is_file() or target.suffix == ".html":
        return Response("not found", 404, media_type="text/plain")
    current = digest == assets_digest()
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable" if current else "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    media = ASSET_TYPES.get(target.suffix)
    return FileResponse(target, headers=headers, media_type=media)


# -- who is signed in -----------------------------------------------------------------------


async def _session_role(request: Request) -> Role | None:
    cookie = session_token(request.cookies)
    if cookie is None:
        return None
    try:
        return (await authenticate(cookie)).principal.role
    except AuthenticationError:
        return None


def _panel_page(panel: Panel):
    async def page(request: Request) -> Response:
        role = await _session_role(request)
        if role not in ROLES[panel]:
            return RedirectResponse(f"/{panel.value}/sign-in", 303, headers=PAGE_HEADERS)
        return _page(f"{panel.value}.html")

    return page


async def session_info(request: Request) -> JSONResponse:
    """What the page's script needs: the session's role, its customer, its CSRF token
    and locale. Read with the cookie only (a GET answered to this origin alone)."""
    cookie = session_token(request.cookies)
    try:
        if cookie is None:
            raise AuthenticationError("not signed in")
        auth = await authenticate(cookie)
    except AuthenticationError:
        return JSONResponse({"error": {"code": "UNAUTHENTICATED", "message": "not signed in"}}, 401)
    customer = None
    locale = auth.tenant.default_locale
    if auth.principal.customer_id is not None:
        row = await Customer.get(id=auth.principal.customer_id).only("public_id", "locale", "name")
        customer = {"id": row.public_id, "name": row.name}
        locale = row.locale or locale
    return JSONResponse(
        {
            "role": auth.principal.role.value,
            "customer": customer,
            "tenant": {"name": auth.tenant.name},
            "csrfToken": csrf_token(cookie),
            "locale": locale if locale in SUPPORTED_LOCALES else "en",
            "expiresAt": auth.api_key.expires_at.isoformat() if auth.api_key.expires_at else None,
        },
        headers={"Cache-Control": "no-store"},
    )


# -- signing in and out ---------------------------------------------------------------------


def _same_origin(request: Request) -> bool:
    """A sign-in form may only be posted from this site (no login CSRF)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return request.headers.get("sec-fetch-site") in (None, "same-origin")
    return urlsplit(origin).netloc == urlsplit(public_base_url(request)).netloc


async def _signed_in(request: Request, session: WebSession, panel: Panel) -> Response:
    previous = session_token(request.cookies)
    if previous is not None and previous != session.token:
        await sign_out(previous)  # the session this browser had ends here
    response = RedirectResponse(f"/{panel.value}", 303, headers=PAGE_HEADERS)
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=max(1, int((session.expires_at - clock.now()).total_seconds())),
        path="/",
        httponly=True,
        secure=secure,
        samesite="strict",
    )
    return response


def _sign_in_page(
    panel: Panel, request: Request, error: str | None = None, status: int = 200
) -> HTMLResponse:
    locale = pick_locale(request.headers.get("accept-language"), "en", web_sign_in.LOCALES)
    return _page("sign-in.html", status, **web_sign_in.values(panel, locale, error))


async def _form_token(request: Request) -> str:
    """The form's `token` (application/x-www-form-urlencoded, a few hundred bytes at
    most: anything larger is not a sign-in)."""
    if not await read_body_within(request, 4096):
        return ""
    values = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
    return (values.get("token") or [""])[0]


def _sign_in_route(panel: Panel):
    async def handle(request: Request) -> Response:
        if request.method == "GET":
            return _sign_in_page(panel, request)
        if not _same_origin(request):
            return _sign_in_page(panel, request, "cross_site", 403)
        token = await _form_token(request)
        try:
            session = await sign_in(token, panel)
        except AuthenticationError:
            return _sign_in_page(panel, request, f"refused.{panel.value}", 401)
        return await _signed_in(request, session, panel)

    return handle


async def portal_link(request: Request) -> Response:
    """GET shows a page whose button redeems the link (a POST from this site): mail
    scanners and link previews fetch a link with GET, and must not use it up; and
    another site cannot sign a visitor in to someone else's portal."""
    if request.method == "GET":
        locale = pick_locale(request.headers.get("accept-language"), "en", web_sign_in.LOCALES)
        return _page("portal-link.html", **web_sign_in.link_values(locale))
    if not _same_origin(request):
        return _sign_in_page(Panel.PORTAL, request, "cross_site", 403)
    try:
        session = await redeem_portal_link(request.path_params["secret"])
    except AuthenticationError:
        return _sign_in_page(Panel.PORTAL, request, "link", 401)
    return await _signed_in(request, session, Panel.PORTAL)


async def sign_out_route(request: Request) -> Response:
    try:
        token = request_token(request, needs_csrf=True)
    except CsrfRefused:
        return JSONResponse(
            {"error": {"code": CsrfRefused.code, "message": CsrfRefused.message}}, 403
        )
    if token is not None and session_token(request.cookies) == token:
        await sign_out(token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/portal", _panel_page(Panel.PORTAL)),
        Route("/portal/sign-in", _sign_in_route(Panel.PORTAL), methods=["GET", "POST"]),
        Route("/portal/link/{secret}", portal_link, methods=["GET", "POST"]),
        Route("/admin", _panel_page(Panel.ADMIN)),
        Route("/admin/sign-in", _sign_in_route(Panel.ADMIN), methods=["GET", "POST"]),
        Route("/web/session", session_info),
        Route("/web/sign-out", sign_out_route, methods=["POST"]),
        Route("/web/assets/{digest}/{path:path}", asset),
    ]
