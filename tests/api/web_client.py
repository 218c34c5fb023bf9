"""A browser's requests to the web panels, as the API tests send them: signing in
through the form, the session's CSRF token, GraphQL with the cookie."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.helpers import post

VIEWER = "{ viewer { role customer { id } } }"
LINK = "mutation($c: ID!) { createPortalLink(customerId: $c) { __typename ... on PortalLinkSuccess { url expiresAt } ... on Error { code message } } }"


async def sign_in(
    client: httpx.AsyncClient, panel: str, token: str, **headers: str
) -> httpx.Response:
    return await client.post(
        f"/{panel}/sign-in", data={"token": token}, headers=headers, follow_redirects=False
    )


async def web_session(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/web/session")
    assert response.status_code == 200, response.text
    return response.json()


async def cookie_gql(
    client: httpx.AsyncClient, csrf: str | None, query: str, **variables: Any
) -> httpx.Response:
    headers = {} if csrf is None else {"X-CSRF-Token": csrf}
    return await post(client, None, query, variables or None, headers=headers)
