"""With the database unreachable, /graphql and the PDF routes answer 503 with the code
DATABASE_UNAVAILABLE (GraphQL JSON on /graphql), not a plain-text 500: a real server
process pointed at a PostgreSQL port nobody listens on, or a SQLite file it cannot
open."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.api.helpers import post

ROOT = Path(__file__).resolve().parents[2]
KEY = "tly_AAAAAAAAAAAA_" + "A" * 32
SERVE = (
    "import sys, uvicorn, server\n"
    "uvicorn.run(server.create_app(), host='127.0.0.1', port=int(sys.argv[1]),"
    " log_level='warning')\n"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def _server(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "WORKER_INTERVAL_SECONDS": "0",
        "BILLING_INTERVAL_SECONDS": "0",
    }
    log = (tmp_path / "server.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVE, str(port), cwd=ROOT, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(300):
                try:
                    await http.get("/health")
                    break
                except httpx.TransportError:
                    assert process.returncode is None, (tmp_path / "server.log").read_text()
                    await asyncio.sleep(0.05)
            else:
                pytest.fail("the server did not start")
        yield base
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:  # a request still hanging holds up the graceful shutdown
            process.kill()
            await process.wait()
        log.close()


@pytest.fixture(
    params=["postgres://postgres@127.0.0.1:{port}/tally", "sqlite://{tmp}/missing/dir/tally.db"],
    ids=["postgres", "sqlite"],
)
def down_url(request: Any, tmp_path: Path) -> str:
    return request.param.format(port=_free_port(), tmp=tmp_path)


async def test_graphql_and_pdf_routes_answer_503(down_url: str, tmp_path: Path) -> None:
    async with _server(down_url, tmp_path) as base, httpx.AsyncClient(base_url=base) as http:
        for accept in ("application/graphql-response+json", "application/json"):
            response = await post(http, KEY, "{ viewer { role } }", headers={"accept": accept})
            assert response.status_code == 503, response.text
            assert response.headers["content-type"].startswith(accept)
            (error,) = response.json()["errors"]
            assert error["extensions"]["code"] == "DATABASE_UNAVAILABLE"
            assert response.headers["retry-after"]
        for path in ("/invoices/in_0000000000000000.pdf", "/credit-notes/cn_0000000000000000.pdf"):
            response = await http.get(path, headers={"authorization": f"Bearer {KEY}"})
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
        # A WebSocket is refused as graphql-transport-ws refuses (4403), not an abnormal
        # close from an unhandled error.
        ws_url = base.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {KEY}"}}
            await ws.send(json.dumps(init))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
        # Still answering after the failures (a lock left held used to hang every request).
        for _ in range(3):
            health = await http.get("/health", timeout=5)
            assert health.status_code == 503 and health.json()["database"] == "down"
