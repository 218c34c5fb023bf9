"""Steps the admin console's browser tests share: signing in through the form,
waiting for a route to finish loading, GraphQL over HTTP with a key."""

from __future__ import annotations

from typing import Any

import httpx

PORTAL_LINK = """mutation($c: ID!) { createPortalLink(customerId: $c) {
  __typename ... on PortalLinkSuccess { url } } }"""


async def sign_in(page: Any, server: str, key: str) -> None:
    """Through /admin/sign-in's form, as a person would; waits for the console."""
    await page.goto(f"{server}/admin/sign-in")
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{server}/admin")
    await page.locator("body[data-ready]").wait_for()


async def open_route(page: Any, route: str) -> None:
    """Goes to #route and waits until its view and every section in it loaded."""
    await page.evaluate("(hash) => { location.hash = hash; }", route)
    name = route.split("/")[0]
    await page.locator(f'main[data-route="{name}"]:not([aria-busy])').wait_for()
    await page.wait_for_function("() => !document.querySelector('main [aria-busy]')")


async def graphql(server: str, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server) as http:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
        )
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def portal_link(server: str, admin: str, customer_id: str) -> str:
    data = await graphql(server, admin, PORTAL_LINK, {"c": customer_id})
    assert data["createPortalLink"]["__typename"] == "PortalLinkSuccess", data
    return data["createPortalLink"]["url"]
