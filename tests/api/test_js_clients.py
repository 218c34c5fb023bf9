"""Stock JavaScript clients against a live server: graphql-http's GraphQL-over-HTTP
audit (every MUST and SHOULD) and the npm graphql-ws client (what GraphiQL, Apollo
and urql use). Skipped without node and npm, except in CI, where they are required."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.api.live import serve
from tests.factories import make_key

JS = Path(__file__).resolve().parents[1] / "js"
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="module")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if IN_CI:
            pytest.fail("node and npm are required in CI (the protocol audits run on them)")
        pytest.skip("node or npm is not installed")
    if not (JS / "node_modules" / "graphql-ws").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(JS)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return node


async def _run(node: str, script: str, env: dict[str, str]) -> Any:
    process = await asyncio.create_subprocess_exec(
        node,
        str(JS / script),
        cwd=JS,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 120)
    finally:
        if process.returncode is None:  # timed out: leave no node process behind
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    return json.loads(out)


async def test_graphql_http_audit_passes_every_must_and_should(
    app: Any, tenant: Any, node: str
) -> None:
    key = await make_key(tenant=tenant)
    async with serve(app) as host:
        rows = await _run(
            node, "audit.mjs", {"TALLY_URL": f"http://{host}/graphql", "TALLY_KEY": key}
        )
    assert len(rows) >= 30
    failed = [f"{r['name']}: {r['reason']}" for r in rows if r["status"] != "ok"]
    assert failed == []


async def test_graphql_ws_client_queries_and_subscribes(app: Any, tenant: Any, node: str) -> None:
    key = await make_key(tenant=tenant)
    async with serve(app) as host:
        out = await _run(node, "ws_client.mjs", {"TALLY_HOST": host, "TALLY_KEY": key})
    assert "failure" not in out, out["failure"]
    assert out["query"] == {"next": {"data": {"viewer": {"role": "ADMIN"}}}}
    event = out["event"]["next"]["data"]["tenantEvents"]
    assert event["type"] == "customer.created" and event["objectId"].startswith("cus_")
    assert "Syntax Error" in out["syntaxError"]["error"][0]["message"]
    (unknown,) = out["unknownCustomer"]["error"]
    assert unknown["extensions"]["code"] == "NOT_FOUND"
    assert "closed" not in out or out["closed"]["code"] == 1000
