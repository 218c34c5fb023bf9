"""`POST /v1/reads` (issue 16): reads of works in bulk through the app's real route,
with the conventions of `POST /v1/events` (JSON array or object, NDJSON, gzip,
chunks of 1,000 with global indexes, whole-request failures as `{"error": ...}`)."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import orjson
import pytest

from db.royalty_models import RoyaltyRead, Work
from domain import clock
from domain.ids import new_id
from domain.tenancy.access import Role
from tests.factories import make_customer, make_key, make_tenant


async def make_work(tenant: Any, code: str = "dune") -> Work:
    now = clock.now()
    return await Work.create(
        public_id=new_id("work"),
        tenant_id=tenant.id,
        code=code,
        title=code.title(),
        created_at=now,
        updated_at=now,
    )


@pytest.fixture
async def world(tenant: Any) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "key": await make_key(tenant=tenant, role=Role.SERVICE),
        "work": (await make_work(tenant)).public_id,
    }


async def _post(
    client: httpx.AsyncClient, key: str | None, body: Any, **headers: str
) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers.setdefault("content-type", "application/json")
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    return await client.post("/v1/reads", content=content, headers=headers)


async def _stored(tenant: Any) -> list[tuple[str, int]]:
    rows = await RoyaltyRead.filter(tenant_id=tenant.id).order_by("request_id")
    return [(r.request_id, r.count) for r in rows]


async def test_a_json_array_and_its_replay(client: httpx.AsyncClient, world: dict) -> None:
    customer = await make_customer(tenant=world["tenant"])
    reads = [
        {"requestId": "r1", "workId": world["work"], "count": 3},
        {"requestId": "r2", "workId": world["work"], "customerId": customer.public_id},
        {"requestId": "r3", "workId": "wrk_0000000000000000"},
        {"requestId": "r4", "workId": world["work"], "count": 0},
    ]
    response = await _post(client, world["key"], reads)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "accepted": 2,
        "duplicates": 0,
        "rejected": 2,
        "errors": [
            {
                "index": 2,
                "requestId": "r3",
                "code": "UNKNOWN_WORK",
                "message": "no work wrk_0000000000000000",
                "field": "workId",
            },
            {
                "index": 3,
                "requestId": "r4",
                "code": "INVALID_COUNT",
                "message": "count must be 1 to 1000000000",
                "field": "count",
            },
        ],
    }
    assert await _stored(world["tenant"]) == [("r1", 3), ("r2", 1)]
    # Resending is safe: the same bodies are duplicates, a changed one a conflict.
    again = await _post(client, world["key"], {"reads": [reads[0], {**reads[1], "count": 2}]})
    body = again.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (0, 1, 1)
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(1, "REQUEST_ID_CONFLICT")]
    assert await _stored(world["tenant"]) == [("r1", 3), ("r2", 1)]


async def test_ndjson_gzip_and_chunks_keep_global_indexes(
    client: httpx.AsyncClient, world: dict
) -> None:
    lines = [
        orjson.dumps({"requestId": f"n{n:04d}", "workId": world["work"]}) for n in range(2_100)
    ]
    lines[1_500] = orjson.dumps({"requestId": "bad", "workId": world["work"], "count": -1})
    lines.insert(10, b"")  # blank lines count in the numbering, and are skipped
    lines.insert(11, b"{not json")
    body = gzip.compress(b"\n".join(lines))
    response = await _post(
        client,
        world["key"],
        body,
        **{"content-type": "application/x-ndjson", "content-encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (2_099, 0, 2)
    assert [(e["index"], e["code"], e["requestId"]) for e in result["errors"]] == [
        (11, "INVALID_JSON", None),
        (1_502, "INVALID_COUNT", "bad"),
    ]
    assert await RoyaltyRead.filter(tenant_id=world["tenant"].id).count() == 2_099


async def test_whole_request_failures(client: httpx.AsyncClient, world: dict) -> None:
    read = [{"requestId": "r", "workId": world["work"]}]
    cases = [
        (await _post(client, None, read), 401, "UNAUTHENTICATED"),
        (await _post(client, "tly_nope_nope", read), 401, None),
        (await _post(client, world["key"], b"[{"), 400, "INVALID_JSON"),
        (await _post(client, world["key"], {"events": read}), 400, "INVALID_BODY"),
        (await _post(client, world["key"], b"x", **{"content-encoding": "br"}), 415, None),
    ]
    customer_key = await make_key(
        tenant=world["tenant"],
        role=Role.CUSTOMER,
        customer=await make_customer(tenant=world["tenant"]),
    )
    cases.append((await _post(client, customer_key, read), 403, "FORBIDDEN"))
    for response, status, code in cases:
        assert response.status_code == status, response.text
        if code is not None:
            assert response.json()["error"]["code"] == code
    assert await _stored(world["tenant"]) == []


async def test_a_key_records_reads_of_its_own_tenant_only(
    client: httpx.AsyncClient, world: dict
) -> None:
    other = await make_tenant()
    theirs = (await make_work(other, "theirs")).public_id
    response = await _post(client, world["key"], [{"requestId": "r", "workId": theirs}])
    assert response.json()["errors"][0]["code"] == "UNKNOWN_WORK"
    assert not await RoyaltyRead.filter(tenant_id__in=[world["tenant"].id, other.id]).exists()
