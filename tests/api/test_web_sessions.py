"""The web panels' sessions over HTTP (issue 18): signing in with a key or a one-time
portal link, the cookie's attributes, CSRF on every cookie request, sign-out and
revocation, the pages' security and cache headers. The browser scenarios are in
tests/browser/."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from domain.tenancy.access import Role
from tests.api.helpers import data, gql, post
from tests.api.web_client import VIEWER, cookie_gql, sign_in, web_session
from tests.factories import make_customer, make_key


async def test_a_customer_token_signs_in_to_the_portal_with_a_strict_http_only_cookie(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    customer = await make_customer(tenant=tenant, locale="fr")
    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=customer)
    response = await sign_in(client, "portal", token)
    assert response.status_code == 303 and response.headers["location"] == "/portal"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("tally_session=tly_")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; HTTPS below
    assert token not in cookie  # a session key of its own, never the token itself
    session = await web_session(client)
    assert session["role"] == "customer"
    assert session["customer"]["id"] == customer.public_id
    assert session["locale"] == "fr"

    # The cookie alone is refused: every /graphql request with it carries the CSRF token.
    refused = await cookie_gql(client, None, VIEWER)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "CSRF_REFUSED"
    wrong = await cookie_gql(client, "0" * 64, VIEWER)
    assert wrong.status_code == 403
    ok = await cookie_gql(client, session["csrfToken"], VIEWER)
    viewer = data(ok.json())["viewer"]
    assert viewer == {"role": "CUSTOMER", "customer": {"id": customer.public_id}}


async def test_the_cookie_is_secure_over_https(app: Any, tenant: Any) -> None:
    customer = await make_customer(tenant=tenant)
    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=customer)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://tally.test") as client:
        response = await sign_in(client, "portal", token)
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


@pytest.mark.parametrize(
    ("panel", "role", "allowed"),
    [
        ("portal", Role.CUSTOMER, True),
        ("portal", Role.ADMIN, False),
        ("portal", Role.SERVICE, False),
        ("admin", Role.ADMIN, True),
        ("admin", Role.ANALYST, True),
        ("admin", Role.CUSTOMER, False),
        ("admin", Role.SERVICE, False),
    ],
)
async def test_each_panel_takes_only_its_roles(
    client: httpx.AsyncClient, tenant: Any, panel: str, role: Role, allowed: bool
) -> None:
    customer = await make_customer(tenant=tenant) if role is Role.CUSTOMER else None
    token = await make_key(tenant=tenant, role=role, customer=customer)
    response = await sign_in(client, panel, token)
    if allowed:
        assert response.status_code == 303
        page = await client.get(f"/{panel}")
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
    else:
        assert response.status_code == 401
        assert "set-cookie" not in response.headers
        assert "cannot open" in response.text


async def test_a_customer_session_cannot_open_the_admin_console(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    customer = await make_customer(tenant=tenant)
    await sign_in(
        client, "portal", await make_key(tenant=tenant, role=Role.CUSTOMER, customer=customer)
    )
    response = await client.get("/admin", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin/sign-in"
    # …and the API refuses what an admin could do, as it refuses the customer's token.
    session = await web_session(client)
    body = (
        await cookie_gql(client, session["csrfToken"], "{ analytics { receivables { currency } } }")
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_cross_site_sign_in_is_refused(client: httpx.AsyncClient, tenant: Any) -> None:
    token = await make_key(tenant=tenant, role=Role.ADMIN)
    forged = await sign_in(client, "admin", token, origin="https://evil.example")
    assert forged.status_code == 403 and "set-cookie" not in forged.headers
    same = await sign_in(client, "admin", token, origin="http://tally.test")
    assert same.status_code == 303


async def test_signing_out_or_revoking_the_key_ends_thesession(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    admin_key = await make_key(tenant=tenant)
    await sign_in(client, "admin", admin_key)
    session = await web_session(client)
    # Sign-out is a state change: it needs the CSRF token too.
    assert (await client.post("/web/sign-out")).status_code == 403
    out = await client.post("/web/sign-out", headers={"X-CSRF-Token": session["csrfToken"]})
    assert out.status_code == 204
    assert (await client.get("/web/session")).status_code == 401

    # Revoking the key that signed in ends every session it opened.
    other = httpx.AsyncClient(transport=client._transport, base_url="http://tally.test")
    async with other:
        await sign_in(other, "admin", admin_key)
        csrf = (await web_session(other))["csrfToken"]
        assert (await cookie_gql(other, csrf, VIEWER)).status_code == 200
        key_id = data(await gql(client, admin_key, "{ viewer { apiKey { id } } }"))["viewer"][
            "apiKey"
        ]["id"]
        revoked = await gql(
            client,
            admin_key,
            "mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }",
            {"id": key_id},
        )
        assert data(revoked)["revokeApiKey"]["__typename"] == "ApiKeySuccess"
        assert (await cookie_gql(other, csrf, VIEWER)).status_code == 401


async def test_pages_carry_a_strict_csp_and_assets_are_cached_by_digest(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    await sign_in(client, "admin", await make_key(tenant=tenant))
    page = await client.get("/admin")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text  # no inline script
    asset = re.search(r'href="(/web/assets/[0-9a-f]{12}/tally\.css)"', page.text)
    assert asset is not None, page.text
    asset = asset.group(1)
    cached = await client.get(asset)
    assert cached.status_code == 200
    assert "immutable" in cached.headers["cache-control"]
    stale = await client.get("/web/assets/000000000000/tally.css")
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"
    for path in ("%2E%2E/web_http.py", "..%2F..%2Fserver.py", "admin.html", "nothing.js"):
        response = await client.get(f"/web/assets/x/{path}")
        assert response.status_code == 404, (path, response.status_code)


async def test_a_session_downloads_its_own_invoice_pdf_only(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    """Document routes take the cookie (a GET: no CSRF token needed), with the key's
    own scope: another customer's invoice reads as missing."""
    from domain.invoicing.service import create_invoice, finalize_invoice
    from tests.factories import admin_of

    mine, theirs = (
        await make_customer(tenant=tenant),
        await make_customer(tenant=tenant, name="Other"),
    )
    invoices = {}
    for customer in (mine, theirs):
        draft = await create_invoice(
            admin_of(tenant),
            {
                "customer_id": customer.public_id,
                "currency": "EUR",
                "items": [
                    {
                        "description": "Setup",
                        "quantity": 1,
                        "unit_price": {"currency": "EUR", "amount_minor": 1000},
                    }
                ],
            },
        )
        invoices[customer.id] = await finalize_invoice(admin_of(tenant), draft.public_id)
    await sign_in(
        client, "portal", await make_key(tenant=tenant, role=Role.CUSTOMER, customer=mine)
    )
    own = await client.get(f"/invoices/{invoices[mine.id].public_id}.pdf")
    assert own.status_code == 200 and own.content.startswith(b"%PDF")
    other = await client.get(f"/invoices/{invoices[theirs.id].public_id}.pdf")
    assert other.status_code == 404


async def test_a_websocket_with_the_cookie_needs_the_csrf_token(app: Any, tenant: Any) -> None:
    """The portal's live feeds: graphql-transport-ws with the session cookie, accepted
    only with `csrfToken` in connection_init (a page on another site could open the
    socket with the cookie, never read the token)."""
    import json

    import websockets

    from tests.api.live import serve

    customer = await make_customer(tenant=tenant)
    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=customer)
    async with serve(app) as host:
        async with httpx.AsyncClient(base_url=f"http://{host}") as client:
            await sign_in(client, "portal", token)
            csrf = (await web_session(client))["csrfToken"]
            cookie = f"tally_session={client.cookies['tally_session']}"

        async def init(payload: dict[str, Any]) -> Any:
            async with websockets.connect(
                f"ws://{host}/graphql",
                subprotocols=["graphql-transport-ws"],
                additional_headers={"Cookie": cookie},
            ) as ws:
                await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
                try:
                    return json.loads(await ws.recv())
                except websockets.ConnectionClosed as closed:
                    return closed.rcvd.code if closed.rcvd else None

        assert await init({}) == 4403  # Forbidden: no token
        assert await init({"csrfToken": "0" * 64}) == 4403
        assert (await init({"csrfToken": csrf}))["type"] == "connection_ack"


async def test_signing_in_again_ends_the_browsers_previoussession(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    admin_key = await make_key(tenant=tenant)
    await sign_in(client, "admin", admin_key)
    first = client.cookies["tally_session"]
    await sign_in(client, "admin", admin_key)
    assert client.cookies["tally_session"] != first
    # The first session's key no longer authenticates anywhere.
    stale = await post(client, first, VIEWER)
    assert stale.status_code == 401


async def test_the_sign_in_page_speaks_the_visitors_language(client: httpx.AsyncClient) -> None:
    french = await client.get("/portal/sign-in", headers={"accept-language": "fr-FR,fr;q=0.9"})
    assert '<html lang="fr" dir="ltr">' in french.text and "Se connecter" in french.text
    arabic = await client.get("/admin/sign-in", headers={"accept-language": "ar"})
    assert '<html lang="ar" dir="rtl">' in arabic.text and "لوحة إدارة Tally" in arabic.text
    english = await client.get("/admin/sign-in", headers={"accept-language": "de, *"})
    assert '<html lang="en" dir="ltr">' in english.text and "API key" in english.text
    assert "{{" not in english.text  # every placeholder filled


async def test_a_non_string_csrf_token_is_refused_not_an_error(app: Any, tenant: Any) -> None:
    import json

    import websockets

    from tests.api.live import serve

    customer = await make_customer(tenant=tenant)
    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=customer)
    async with serve(app) as host:
        async with httpx.AsyncClient(base_url=f"http://{host}") as client:
            await sign_in(client, "portal", token)
            cookie = f"tally_session={client.cookies['tally_session']}"
        for payload in ({"csrfToken": 12345}, {"csrfToken": {"a": 1}}, {"csrfToken": None}):
            async with websockets.connect(
                f"ws://{host}/graphql",
                subprotocols=["graphql-transport-ws"],
                additional_headers={"Cookie": cookie},
            ) as ws:
                await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
