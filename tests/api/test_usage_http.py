"""The usage HTTP endpoints (issue 15): `POST /v1/events` (JSON array, NDJSON, gzip,
the 50 MB limit, chunks of 1,000 with global indexes) and the streamed CSV and JSON
exports, through the app's real routes."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from api import bulk_http, usage_http
from db.usage_models import UsageEvent
from domain.tenancy.access import Role
from domain.usage.charges import create_charge
from domain.usage.metrics import create_metric
from tests.factories import admin_of, make_customer, make_key, make_plan, make_subscription

MB = 1024 * 1024


@dataclass
class Usage:
    tenant: Any
    key: str  # a service key
    customer: Any
    other: Any


@pytest.fixture
async def usage(tenant: Any) -> Usage:
    admin = admin_of(tenant)
    plan = await make_plan(tenant=tenant, prices=[("EUR", 1_000)], name="Metered")
    await create_metric(admin, {"code": "calls", "name": "Calls", "aggregation": "COUNT"})
    await create_metric(
        admin, {"code": "seconds", "name": "Seconds", "aggregation": "SUM", "field_name": "s"}
    )
    for code, price in (("calls", "0.01"), ("seconds", "0.001")):
        await create_charge(
            admin,
            {
                "plan_id": plan.public_id,
                "metric_id": code,
                "model": "PER_UNIT",
                "prices": [{"currency": "EUR", "properties": {"unitPrice": price}}],
            },
        )
    customer = await make_customer(tenant=tenant, country="FR", external_id="ext-1")
    other = await make_customer(tenant=tenant, name="Other", country="FR")
    for who in (customer, other):
        await make_subscription(tenant=tenant, customer=who, plan=plan)
    key = await make_key(tenant=tenant, role=Role.SERVICE)
    return Usage(tenant, key, customer, other)


def _auth(key: str, **headers: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}", **headers}


def _event(u: Usage, tx: str, **extra: Any) -> dict[str, Any]:
    return {"transactionId": tx, "customerId": u.customer.public_id, "metricCode": "calls", **extra}


async def _stored(u: Usage) -> list[str]:
    rows = await UsageEvent.filter(tenant_id=u.tenant.id).order_by("transaction_id")
    return [r.transaction_id for r in rows]


async def _post(client: httpx.AsyncClient, key: str, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers.setdefault("content-type", "application/json")
    return await client.post("/v1/events", content=content, headers=_auth(key, **headers))


async def test_a_json_array_gets_counts_and_the_refused_indexes(
    client: httpx.AsyncClient, usage: Usage
) -> None:
    events = [
        _event(usage, "a"),
        _event(usage, "b", metricCode="seconds", properties={"s": 30}),
        _event(usage, "a"),  # the same event again in the batch: a duplicate
        _event(usage, "c", metricCode="nope"),
        _event(usage, "b", metricCode="seconds", properties={"s": 31}),  # another body
        {"transactionId": "d", "externalCustomerId": "ext-1", "code": "calls"},
        _event(usage, "e", metricCode="seconds", properties={"s": "ten"}),
    ]
    response = await _post(client, usage.key, events)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 1, 3)
    assert [(e["index"], e["transactionId"], e["code"]) for e in body["errors"]] == [
        (3, "c", "UNKNOWN_METRIC"),
        (4, "b", "TRANSACTION_ID_CONFLICT"),
        (6, "e", "NOT_A_NUMBER"),
    ]
    assert body["errors"][0]["field"] == "metricCode" and "nope" in body["errors"][0]["message"]
    assert await _stored(usage) == ["a", "b", "d"]

    again = await _post(client, usage.key, {"events": events[:2]})
    assert again.json() == {"accepted": 0, "duplicates": 2, "rejected": 0, "errors": []}
    assert await _stored(usage) == ["a", "b", "d"]


async def test_ndjson_with_a_bad_line_stores_the_others(
    client: httpx.AsyncClient, usage: Usage
) -> None:
    lines = [
        orjson.dumps(_event(usage, "n1")),
        b"",  # blank lines are skipped but keep their number
        b'{"transactionId": "n2", "customerId": ',  # cut short
        orjson.dumps(_event(usage, "n3", customerId="cus_00000000000000")),
        orjson.dumps(_event(usage, "n4", metricCode="seconds", properties={"s": 2})) + b"\r",
        b"",
    ]
    response = await _post(
        client, usage.key, b"\n".join(lines), **{"content-type": "application/x-ndjson"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 0, 2)
    bad, unknown = body["errors"]
    assert (bad["index"], bad["code"], bad["transactionId"]) == (2, "INVALID_JSON", None)
    assert bad["message"].startswith("line 3: malformed JSON")
    assert (unknown["index"], unknown["code"]) == (3, "UNKNOWN_CUSTOMER")
    assert await _stored(usage) == ["n1", "n4"]


async def test_gzip_bodies_are_inflated(client: httpx.AsyncClient, usage: Usage) -> None:
    body = gzip.compress(orjson.dumps([_event(usage, f"g{i}") for i in range(50)]))
    response = await _post(client, usage.key, body, **{"content-encoding": "gzip"})
    assert response.json()["accepted"] == 50
    ndjson = b"\n".join(orjson.dumps(_event(usage, f"z{i}")) for i in range(3))
    two_members = gzip.compress(ndjson[:40]) + gzip.compress(ndjson[40:])
    response = await _post(
        client,
        usage.key,
        two_members,
        **{"content-encoding": "gzip", "content-type": "application/x-ndjson"},
    )
    assert response.json()["accepted"] == 3
    assert len(await _stored(usage)) == 53

    broken = await _post(client, usage.key, b"not gzip", **{"content-encoding": "gzip"})
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "INVALID_GZIP"
    cut = await _post(client, usage.key, body[:-10], **{"content-encoding": "gzip"})
    assert cut.status_code == 400 and "truncated" in cut.json()["error"]["message"]
    br = await _post(client, usage.key, b"[]", **{"content-encoding": "br"})
    assert br.status_code == 415 and br.json()["error"]["code"] == "UNSUPPORTED_ENCODING"


async def test_malformed_json_is_a_400_with_its_position(
    client: httpx.AsyncClient, usage: Usage
) -> None:
    response = await _post(client, usage.key, b'[\n  {"transactionId": "x",,}\n]')
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID_JSON"
    assert error["line"] == 2 and error["position"] > 0
    assert "line 2 column" in error["message"]
    for document in (b'{"data": []}', b'"events"', b"42"):
        response = await _post(client, usage.key, document)
        assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_BODY"
    assert await _stored(usage) == []


async def test_a_body_over_50_mb_is_a_413_read_no_further(
    client: httpx.AsyncClient, usage: Usage
) -> None:
    block = b" " * MB  # JSON whitespace: only the size is wrong
    sent = 0

    async def stream() -> AsyncIterator[bytes]:  # chunked: no Content-Length to trust
        nonlocal sent
        yield b"["
        for _ in range(80):
            sent += 1
            yield block
        yield b"]"

    response = await client.post(
        "/v1/events", content=stream(), headers=_auth(usage.key, **{"content-type": "text/json"})
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE" and "50 MB" in error["message"]
    assert sent <= 52  # the server stopped reading at the limit
    declared = await _post(client, usage.key, b"[]", **{"content-length": str(51 * MB)})
    assert declared.status_code == 413  # refused on its Content-Length, before reading

    # A gzip bomb: 60 KB that inflate to 60 MB stop at the limit too.
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join([deflate.compress(b"["), *(deflate.compress(block) for _ in range(60))])
    bomb += deflate.compress(b"]") + deflate.flush()
    assert len(bomb) < MB
    response = await _post(client, usage.key, bomb, **{"content-encoding": "gzip"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_keys_and_roles(client: httpx.AsyncClient, usage: Usage) -> None:
    events = orjson.dumps([_event(usage, "k")])
    response = await client.post("/v1/events", content=events)
    assert response.status_code == 401 and response.json()["error"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].startswith("Bearer")
    bad = await _post(client, "tly_AAAAAAAAAAAA_" + "A" * 32, events)
    assert bad.status_code == 401
    token = await make_key(tenant=usage.tenant, role=Role.CUSTOMER, customer=usage.customer)
    forbidden = await _post(client, token, events)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "FORBIDDEN"
    admin = await make_key(tenant=usage.tenant, role=Role.ADMIN)
    assert (await _post(client, admin, events)).json()["accepted"] == 1


async def test_1500_events_go_in_two_chunks_with_global_indexes(
    client: httpx.AsyncClient, usage: Usage
) -> None:
    events = [
        _event(usage, f"t{i:04}", metricCode="seconds", properties={"s": i}) for i in range(1_500)
    ]
    events[3]["properties"] = {}
    events[1_200]["metricCode"] = "unknown"
    events[1_499] = {**events[10]}  # a duplicate of an event of the first chunk
    response = await _post(client, usage.key, events)
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (1_497, 1, 2)
    assert [(e["index"], e["transactionId"], e["code"]) for e in body["errors"]] == [
        (3, "t0003", "MISSING_PROPERTY"),
        (1_200, "t1200", "UNKNOWN_METRIC"),
    ]
    assert await UsageEvent.filter(tenant_id=usage.tenant.id).count() == 1_497


async def test_database_down_is_a_503(
    client: httpx.AsyncClient, usage: Usage, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(token: str) -> Any:
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(bulk_http, "authenticate", refused)
    response = await _post(client, usage.key, [_event(usage, "x")])
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert response.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
    export = await client.get(
        "/v1/exports/usage-events.csv",
        params={"customerId": usage.customer.public_id},
        headers=_auth(usage.key),
    )
    assert export.status_code == 503


async def _export(client: httpx.AsyncClient, key: str, what: str, **params: str) -> httpx.Response:
    return await client.get(f"/v1/exports/{what}", params=params, headers=_auth(key))


async def test_event_exports_in_csv_and_json(client: httpx.AsyncClient, usage: Usage) -> None:
    ref = usage.customer.public_id
    events = [
        _event(usage, f"x{i:04}", metricCode="seconds", properties={"s": i, "note": 'a,"b"'})
        for i in range(2_100)  # more than one keyset chunk of the domain's reader
    ]
    events.append(_event(usage, "=cmd()", timestamp="2000-01-01T00:00:00Z"))  # refused
    events.append(_event(usage, "=SUM(A1)"))
    events.append(_event(usage, "elsewhere", customerId=usage.other.public_id))
    assert (await _post(client, usage.key, events)).json()["accepted"] == 2_102

    response = await _export(client, usage.key, "usage-events.csv", customerId=ref)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="usage-events-{ref}.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 2_101
    assert list(rows[0]) == [
        "transactionId", "customer", "subscription", "metric", "timestamp", "properties"
    ]  # fmt: skip
    by_tx = {r["transactionId"]: r for r in rows}
    first = by_tx["x0000"]
    assert first["customer"] == ref
    assert first["metric"] == "seconds" and first["subscription"].startswith("sub_")
    assert json.loads(first["properties"]) == {"s": 0, "note": 'a,"b"'}
    assert "T" in first["timestamp"] and first["timestamp"].endswith("+00:00")
    assert "'=SUM(A1)" in by_tx  # quoted: never a formula in a spreadsheet

    response = await _export(client, usage.key, "usage-events.json", customerId="ext-1")
    assert response.headers["content-type"] == "application/json"
    items = {item["transactionId"]: item for item in json.loads(response.text)}
    assert len(items) == 2_101 and items["x0005"]["properties"] == {"s": 5, "note": 'a,"b"'}
    assert items["=SUM(A1)"]["metric"] == "calls"  # JSON carries the id as it was sent

    window = await _export(
        client,
        usage.key,
        "usage-events.json",
        customerId=ref,
        since="2000-01-01",
        until="2001-01-01",
    )
    assert window.status_code == 200 and window.json() == []
    bad = await _export(client, usage.key, "usage-events.json", customerId=ref, since="soon")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "since"


async def test_period_exports_and_who_may_read_them(
    client: httpx.AsyncClient, usage: Usage
) -> None:
    events = [_event(usage, f"p{i}") for i in range(7)]
    events.append(_event(usage, "s1", metricCode="seconds", properties={"s": "2.5"}))
    assert (await _post(client, usage.key, events)).json()["accepted"] == 8
    token = await make_key(tenant=usage.tenant, role=Role.CUSTOMER, customer=usage.customer)
    ref = usage.customer.public_id

    response = await _export(client, token, "usage-periods.json", customerId=ref)
    assert response.status_code == 200, response.text
    periods = sorted(response.json(), key=lambda p: p["events"])
    assert [(p["events"], p["total"], p["status"]) for p in periods] == [
        (1, "2.5", "open"),
        (7, "0", "open"),
    ]
    assert all(
        p["charge"].startswith("chg_") and p["subscription"].startswith("sub_") for p in periods
    )
    assert periods[0]["periodStart"] < periods[0]["periodEnd"]
    response = await _export(client, token, "usage-periods.csv", customerId=ref)
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(int(r["events"]) for r in rows) == [1, 7]
    assert rows[0]["billedMinor"] == "" and rows[0]["status"] == "open"

    for what in ("usage-periods.csv", "usage-events.json"):
        other = await _export(client, token, what, customerId=usage.other.public_id)
        assert other.status_code == 404 and other.json()["error"]["code"] == "NOT_FOUND"
    empty = await _export(client, usage.key, "usage-periods.csv", customerId=usage.other.public_id)
    assert empty.text.splitlines() == [
        ",".join(usage_http._camel(c) for c in usage_http.PERIOD_COLUMNS)
    ]
    missing = await _export(client, usage.key, "usage-events.csv")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "MISSING_PARAMETER"
    xml = await _export(client, usage.key, "usage-events.xml", customerId=ref)
    assert xml.status_code == 404
    unknown = await _export(client, usage.key, "usage-events.csv", customerId="cus_nobody")
    assert unknown.status_code == 404
    assert (await client.get(f"/v1/exports/usage-events.csv?customerId={ref}")).status_code == 401
