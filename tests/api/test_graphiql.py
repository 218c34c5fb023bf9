"""GraphiQL is served with its assets from Tally itself: no CDN, so it works offline
and behind a strict firewall."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx

ASSET = re.compile(r'(?:src|href)="([^"]+)"\s+integrity="([^"]+)"')
EXTERNAL = re.compile(r'(?:src|href)="(?:https?:)?//', re.IGNORECASE)


async def test_graphiql_references_no_external_host_and_every_asset_loads(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    html = page.text
    assert "GraphiQL" in html
    assert not EXTERNAL.search(html)
    assets = ASSET.findall(html)
    assert {url.rsplit(".", 1)[-1] for url, _ in assets} == {"js", "css"}
    assert len(assets) == 7
    for url, integrity in assets:
        assert url.startswith("/") and not url.startswith("//"), url
        response = await client.get(url)
        assert response.status_code == 200, url
        kind = "javascript" if url.endswith(".js") else "css"
        assert kind in response.headers["content-type"]
        digest = base64.b64encode(hashlib.sha384(response.content).digest()).decode()
        assert integrity == f"sha384-{digest}", url  # the browser would refuse it otherwise
