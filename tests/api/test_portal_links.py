"""One-time customer portal links (issue 18): made by an admin key (or the console),
valid 15 minutes, redeemed once by a POST from the link's own page; a console-made
link belongs to the admin's key; refused for an archived customer."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import httpx

from db.web_models import PortalLink
from domain import clock
from domain.tenancy.access import Role
from tests.api.helpers import data, gql
from tests.api.web_client import LINK, VIEWER, cookie_gql, sign_in, web_session
from tests.factories import make_customer, make_key


async def test_a_portal_link_signs_in_once_within_fifteen_minutes(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    admin_key = await make_key(tenant=tenant)
    customer = await make_customer(tenant=tenant)
    result = data(await gql(client, admin_key, LINK, {"c": customer.public_id}))["createPortalLink"]
    assert result["__typename"] == "PortalLinkSuccess"
    url = result["url"]
    assert url.startswith("http://tally.test/portal/link/tpl_")
    path = url.removeprefix("http://tally.test")
    # Fetching it (a mail scanner, a link preview) shows the button; it uses nothing.
    for _ in range(2):
        shown = await client.get(path)
        assert shown.status_code == 200 and "Open my billing portal" in shown.text
        assert "set-cookie" not in shown.headers
    forged = await client.post(path, headers={"origin": "https://evil.example"})
    assert forged.status_code == 403 and "set-cookie" not in forged.headers
    first = await client.post(path, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/portal"
    assert first.headers["referrer-policy"] == "no-referrer"
    assert (await web_session(client))["customer"]["id"] == customer.public_id
    client.cookies.clear()
    again = await client.post(path, follow_redirects=False)
    assert again.status_code == 401 and "set-cookie" not in again.headers
    assert "already used" in again.text

    # Expired: a link from 16 minutes ago is refused.
    late = data(await gql(client, admin_key, LINK, {"c": customer.public_id}))["createPortalLink"]
    secret = late["url"].rsplit("/", 1)[1]

    await PortalLink.filter(secret_hash=hashlib.sha256(secret.encode()).hexdigest()).update(
        expires_at=clock.now() - timedelta(minutes=1)
    )
    assert (await client.post(f"/portal/link/{secret}", follow_redirects=False)).status_code == 401
    assert (
        await client.post("/portal/link/tpl_nonsense", follow_redirects=False)
    ).status_code == 401


async def test_only_admins_create_portal_links_and_only_for_their_customers(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    customer = await make_customer(tenant=tenant)
    own = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=customer)
    denied = data(await gql(client, own, LINK, {"c": customer.public_id}))["createPortalLink"]
    assert denied["code"] == "FORBIDDEN"
    admin_key = await make_key(tenant=tenant)
    missing = data(await gql(client, admin_key, LINK, {"c": "cus_doesnotexist0000"}))
    assert missing["createPortalLink"]["__typename"] != "PortalLinkSuccess"


async def test_a_link_made_in_the_console_belongs_to_the_admins_key(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    """Made from a console session, a link is the admin key's: the admin signing out
    does not void it, revoking the admin key ends the customer's session."""
    admin_key = await make_key(tenant=tenant)
    customer = await make_customer(tenant=tenant)
    await sign_in(client, "admin", admin_key)
    csrf = (await web_session(client))["csrfToken"]
    made = await cookie_gql(client, csrf, LINK, c=customer.public_id)
    url = data(made.json())["createPortalLink"]["url"]
    out = await client.post("/web/sign-out", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    opened = await client.post(url.removeprefix("http://tally.test"), follow_redirects=False)
    assert opened.status_code == 303
    portal_csrf = (await web_session(client))["csrfToken"]
    assert (await cookie_gql(client, portal_csrf, VIEWER)).status_code == 200

    viewer = data(await gql(client, admin_key, "{ viewer { apiKey { id } } }"))["viewer"]
    revoke = "mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }"
    assert data(await gql(client, admin_key, revoke, {"id": viewer["apiKey"]["id"]}))
    assert (await cookie_gql(client, portal_csrf, VIEWER)).status_code == 401


async def test_two_clicks_on_one_link_sign_in_once(client: httpx.AsyncClient, tenant: Any) -> None:
    import asyncio

    from domain.errors import AuthenticationError
    from domain.tenancy.web_sessions import redeem_portal_link

    admin_key = await make_key(tenant=tenant)
    customer = await make_customer(tenant=tenant)
    made = data(await gql(client, admin_key, LINK, {"c": customer.public_id}))
    secret = made["createPortalLink"]["url"].rsplit("/", 1)[1]
    results = await asyncio.gather(
        *(redeem_portal_link(secret) for _ in range(4)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, AuthenticationError)]
    assert len(refused) == 3 and len(results) - len(refused) == 1, results


async def test_a_link_to_an_archived_customer_is_refused(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    admin_key = await make_key(tenant=tenant)
    customer = await make_customer(tenant=tenant)
    made = data(await gql(client, admin_key, LINK, {"c": customer.public_id}))
    url = made["createPortalLink"]["url"]
    archive = "mutation($id: ID!) { archiveCustomer(id: $id) { __typename } }"
    assert data(await gql(client, admin_key, archive, {"id": customer.public_id}))
    opened = await client.post(url.removeprefix("http://tally.test"), follow_redirects=False)
    assert opened.status_code == 401 and "set-cookie" not in opened.headers
