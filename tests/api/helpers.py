"""Sending GraphQL documents the way a client does."""

from __future__ import annotations

from typing import Any

import httpx


async def gql(
    client: httpx.AsyncClient,
    key: str | None,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST a document; returns the JSON body, asserting the HTTP status is 200."""
    response = await post(client, key, query, variables, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def post(
    client: httpx.AsyncClient,
    key: str | None,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    all_headers = {
        "content-type": "application/json",
        "accept": "application/graphql-response+json",
    }
    if key is not None:
        all_headers["authorization"] = f"Bearer {key}"
    all_headers.update(headers or {})
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return await client.post("/graphql", json=body, headers=all_headers)


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body.get("errors")
    return body["data"]
