"""GraphQL over HTTP: media types, status codes, limits, masking, health, metrics."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.api.helpers import data, gql, post
from tests.factories import make_key

GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.fixture
async def key(tenant: Any) -> str:
    return await make_key(tenant=tenant)


async def test_post_query_uses_the_graphql_response_media_type(
    client: httpx.AsyncClient, key: str
) -> None:
    response = await post(client, key, "{ viewer { role } }")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert response.json() == {"data": {"viewer": {"role": "ADMIN"}}}


async def test_legacy_json_accept_gets_json_and_200_even_for_invalid_documents(
    client: httpx.AsyncClient, key: str
) -> None:
    response = await post(client, key, "{ nope }", headers={"accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "data" not in response.json() and response.json()["errors"]


@pytest.mark.parametrize(
    "document",
    [
        "{ viewer { role }",
        "{ unknownField }",
        "{ plans(bogus: 1) { nodes { id } } }",
        "query { viewer }",
    ],
)
async def test_parse_and_validation_errors_are_400_without_data(
    client: httpx.AsyncClient, key: str, document: str
) -> None:
    response = await post(client, key, document)
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["message"]


async def test_get_queries_work_and_get_mutations_are_405(
    client: httpx.AsyncClient, key: str
) -> None:
    auth = {"authorization": f"Bearer {key}", "accept": GRAPHQL_RESPONSE}
    response = await client.get("/graphql", params={"query": "{ viewer { role } }"}, headers=auth)
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["role"] == "ADMIN"
    mutation = 'mutation { archivePlan(id: "pln_0000000000000000") { __typename } }'
    response = await client.get("/graphql", params={"query": mutation}, headers=auth)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_malformed_json_is_400(client: httpx.AsyncClient, key: str) -> None:
    response = await client.post(
        "/graphql",
        content=b'{"query": "{ viewer { role } }"',
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]


async def test_wrong_content_type_is_415(client: httpx.AsyncClient, key: str) -> None:
    response = await client.post(
        "/graphql",
        content=b"query=%7Bviewer%7Brole%7D%7D",
        headers={
            "authorization": f"Bearer {key}",
            "content-type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 415


async def test_unacceptable_accept_is_406(client: httpx.AsyncClient, key: str) -> None:
    response = await post(client, key, "{ viewer { role } }", headers={"accept": "text/csv"})
    assert response.status_code == 406


async def test_other_methods_are_405(client: httpx.AsyncClient) -> None:
    response = await client.put("/graphql", content=b"{}")
    assert response.status_code == 405


async def test_graphiql_is_served_without_a_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_depth_limit(tenant: Any, key: str, settings: Any) -> None:
    # The public schema is shallow; a schema built with a lower limit shows the rule is wired.
    from api.context import Context
    from api.schema import build_schema
    from domain.events.bus import InProcessBus
    from domain.tenancy.api_keys import authenticate
    from tests.factories import key_row

    schema = build_schema(max_depth=3)
    ctx = Context(request=None, response=None, bus=InProcessBus())  # type: ignore[arg-type]
    ctx.sign_in(await authenticate(key), None)
    ok = await schema.execute("{ viewer { tenant { id } } }", context_value=ctx)
    assert ok.errors is None
    deep = await schema.execute(
        "{ viewer { apiKey { customer { address { city } } } } }", context_value=ctx
    )
    assert deep.errors and "exceeds maximum operation depth" in deep.errors[0].message
    assert (await key_row(key)).role == "admin"


async def test_alias_and_token_limits(client: httpx.AsyncClient, key: str) -> None:
    aliases = " ".join(f"a{i}: viewer {{ role }}" for i in range(40))
    response = await post(client, key, "{ " + aliases + " }")
    assert response.status_code == 400
    assert "alias" in response.json()["errors"][0]["message"].lower()
    tokens = " ".join("__typename" for _ in range(6000))
    response = await post(client, key, "{ " + tokens + " }")
    assert response.status_code == 400
    assert "token" in response.json()["errors"][0]["message"].lower()


async def test_unexpected_errors_are_masked(
    client: httpx.AsyncClient, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from domain.tenancy import tenants

    async def boom(principal: Any) -> Any:
        raise RuntimeError("secret database detail")

    monkeypatch.setattr(tenants, "get_tenant", boom)
    body = (await post(client, key, "{ tenant { id } }")).json()
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "secret" not in str(body)


async def test_expected_query_errors_carry_a_code(client: httpx.AsyncClient, key: str) -> None:
    body = await gql(client, key, '{ plan(id: "not-an-id") { id } }')
    assert body["data"] == {"plan": None}
    assert body["errors"][0]["extensions"] == {"code": "INVALID_ID", "field": "id"}


async def test_health_and_metrics(client: httpx.AsyncClient, key: str) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "not configured"}
    data(await gql(client, key, "{ viewer { role } }"))
    metrics = (await client.get("/metrics")).text
    assert 'tally_http_requests_total{path="/graphql",status="200"}' in metrics


async def test_health_is_503_when_redis_is_down(settings: Any) -> None:
    import dataclasses

    from server import create_app

    app = create_app(
        dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0"), manage_db=False
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tally.test") as c:
        response = await c.get("/health")
    assert response.status_code == 503
    assert response.json()["redis"] == "down"


async def test_cors_only_for_configured_origins(settings: Any) -> None:
    import dataclasses

    from server import create_app

    app = create_app(
        dataclasses.replace(settings, allowed_origins=("https://app.example",)), manage_db=False
    )
    transport = httpx.ASGITransport(app=app)
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }
    async with httpx.AsyncClient(transport=transport, base_url="http://tally.test") as c:
        ok = await c.options("/graphql", headers={"origin": "https://app.example", **preflight})
        other = await c.options("/graphql", headers={"origin": "https://evil.example", **preflight})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize("accept", [None, "*/*", "application/*"])
async def test_clients_naming_no_type_get_application_json(
    client: httpx.AsyncClient, key: str, accept: str | None
) -> None:
    # curl sends */*: a validation error must reach it as a readable 200, not a 400.
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    if accept is not None:
        headers["accept"] = accept
    request = client.build_request("POST", "/graphql", json={"query": "{ nope }"}, headers=headers)
    if accept is None:
        del request.headers["accept"]
    response = await client.send(request)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "body",
    [b"null", b"42", b'"x"', b"true", b"[]", b'{"query": "{ viewer { role } }", "variables": 3}'],
)
async def test_a_body_that_is_not_a_request_object_is_400(
    client: httpx.AsyncClient, key: str, body: bytes
) -> None:
    response = await client.post(
        "/graphql",
        content=body,
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("depth", [2_000, 100_000])
async def test_deeply_nested_variables_are_400(
    client: httpx.AsyncClient, key: str, depth: int
) -> None:
    nested = b"[" * depth + b"]" * depth
    body = b'{"query": "{ viewer { role } }", "variables": {"x": ' + nested + b"}}"
    response = await client.post(
        "/graphql",
        content=body,
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_request_bodies_over_a_megabyte_are_413(
    client: httpx.AsyncClient, key: str, app: Any
) -> None:
    padding = " " * (1024 * 1024)
    response = await post(client, key, "{ viewer { role } }" + padding)
    assert response.status_code == 413
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "1 MB" in error["message"]

    # Chunked, with no Content-Length: still stopped at the limit.
    async def chunks() -> Any:
        for _ in range(3):
            yield b" " * (512 * 1024)

    response = await client.post(
        "/graphql",
        content=chunks(),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    assert response.status_code == 413

    # A GET carries its document in the query string: the same limit, 414. (httpx
    # refuses to send such a URL, so the request goes to the ASGI app directly.)
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"query=" + b"%20" * (1024 * 1024),
        "headers": [(b"authorization", f"Bearer {key}".encode()), (b"accept", b"*/*")],
        "client": ("127.0.0.1", 1),
        "server": ("tally.test", 80),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 414
    assert orjson.loads(sent[1]["body"])["errors"][0]["extensions"]["code"] == "URI_TOO_LONG"

    # The provider webhook route stops reading a chunked body at its own limit too.
    response = await client.post("/webhooks/sandbox/ten_nope", content=chunks())
    assert response.status_code == 413


async def test_errors_do_not_echo_a_long_input_back(client: httpx.AsyncClient, key: str) -> None:
    huge = "A" * 100_000
    response = await post(client, key, f'{{ plans(first: "{huge}") {{ nodes {{ id }} }} }}')
    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert len(message) < 1000 and "…" in message


async def test_a_database_lost_during_execution_is_503_not_masked(
    client: httpx.AsyncClient, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from domain.tenancy import tenants

    async def gone(principal: Any) -> Any:
        raise ConnectionRefusedError(111, "Connect call failed ('10.0.0.9', 5432)")

    monkeypatch.setattr(tenants, "get_tenant", gone)
    response = await post(client, key, "{ tenant { id } }")
    assert response.status_code == 503
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "DATABASE_UNAVAILABLE"}
    assert "10.0.0.9" not in response.text
