"""Usage metering through real GraphQL documents: a metric and a graduated charge on a
plan, events ingested (accepted, duplicate, refused with their index), the current
usage with its tiers and groups, who may do what, and the usage line of the invoice
a test clock's renewal issues."""

from __future__ import annotations

import httpx

from domain.tenancy.access import Role
from tests.api.helpers import data, gql
from tests.api.usage_world import CREATE_METRIC, PLAN_CHARGES, metered_world, minutes_event
from tests.factories import make_customer, make_key, make_tenant

INGEST = """mutation($events: [UsageEventInput!]!) { ingestUsageEvents(events: $events) {
  __typename
  ... on IngestUsageEventsSuccess { accepted duplicates rejected
      results { index transactionId status error { code field } } }
  ... on Error { code field message } } }"""
CURRENT = """query($c: ID!) { currentUsage(customerId: $c) {
  currency periodStart periodEnd subscription { id } amount { amountMinor currency }
  charges { chargeId invoiceDisplayName model metric { code name } units billedUnits
    exactAmount events
    amount { amountMinor } unitPrice
    tiers { fromUnits toUnits units unitPrice flatFee amount }
    groups { group units amount { amountMinor } } } } }"""
EVENTS = """query($c: ID!, $m: String) { meteredEvents(customerId: $c, metricCode: $m, first: 10) {
  totalCount nodes { transactionId timestamp properties metric { code } subscription { id } } } }"""
ADVANCE = """mutation($id: ID!, $to: DateTime!) { advanceTestClock(id: $id, to: $to) {
  __typename ... on Error { code } } }"""
INVOICES = """query($s: ID!) { invoices(subscriptionId: $s) { nodes {
  lines { kind description amount { amountMinor } periodStart periodEnd
    usage { term chargeId metricCode model units billedUnits exactAmount events unitPrice
      amount { amountMinor }
      tiers { fromUnits toUnits units unitPrice flatFee amount }
      groups { group units amount { amountMinor } } } } } } }"""
TIER_ROWS = [
    {
        "fromUnits": "0",
        "toUnits": "100",
        "units": "100",
        "unitPrice": "0.1",
        "flatFee": "0",
        "amount": "10",
    },
    {
        "fromUnits": "100",
        "toUnits": None,
        "units": "50",
        "unitPrice": "0.05",
        "flatFee": "1",
        "amount": "3.5",
    },
]
GROUPS = [
    {"group": {"quality": "HD"}, "units": "80", "amount": {"amountMinor": 720}},
    {"group": {"quality": "SD"}, "units": "70", "amount": {"amountMinor": 630}},
]


async def test_a_metric_and_a_graduated_charge_priced_as_events_land(
    client: httpx.AsyncClient, db: str
) -> None:
    w = await metered_world(client)
    metric, charge = w["metric"], w["charge"]
    assert metric["__typename"] == "BillableMetricSuccess"
    assert metric["metric"]["id"].startswith("bm_")
    assert {k: v for k, v in metric["metric"].items() if k != "id"} == {
        "code": "minutes",
        "aggregation": "SUM",
        "fieldName": "seconds",
        "dimensions": ["quality"],
        "timeUnit": "HOUR",
        "conversion": {"divisor": "60", "rounding": "CEIL", "decimals": 0, "perEvent": True},
    }
    assert charge["__typename"] == "UsageChargeSuccess"
    assert {k: v for k, v in charge["charge"].items() if k != "id"} == {
        "model": "GRADUATED",
        "invoiceDisplayName": "Streaming minutes",
        "prices": [
            {
                "currency": "EUR",
                "properties": {
                    "tiers": [
                        {"upTo": "100", "unitPrice": "0.1", "flatFee": "0"},
                        {"upTo": None, "unitPrice": "0.05", "flatFee": "1"},
                    ]
                },
            }
        ],
        "filters": [],
        "metric": {"code": "minutes"},
        "plan": {"code": "stream"},
    }
    other = await make_tenant(name="Elsewhere")
    stranger = await make_customer(tenant=other, name="Stranger")
    events = [
        minutes_event("s-1", 4_800, timestamp="2027-03-01T00:00:30Z"),  # 80 minutes
        minutes_event("s-2", "4170", "SD", timestamp=1_803_859_260),  # 69.5 → 70 started minutes
        minutes_event("s-1", 4_800, timestamp="2027-03-01T00:00:30Z"),  # the same again
        minutes_event("s-1", 60),  # the same id, another body
        {**minutes_event("s-3", 60), "metricCode": "bytes"},
        {**minutes_event("s-4", 60), "properties": {"quality": "HD"}},
        {**minutes_event("s-5", 60), "customerId": stranger.public_id},
        minutes_event("s-6", 60, timestamp="yesterday"),
    ]
    customer = w["customer"]
    for event in events:
        event.setdefault("customerId", customer.public_id)
    result = data(await gql(client, w["service"], INGEST, {"events": events}))
    report = result["ingestUsageEvents"]
    assert report["__typename"] == "IngestUsageEventsSuccess"
    assert (report["accepted"], report["duplicates"], report["rejected"]) == (2, 1, 5)
    assert [
        (r["index"], r["transactionId"], r["status"], r["error"]) for r in report["results"]
    ] == [
        (2, "s-1", "DUPLICATE", None),
        (3, "s-1", "REJECTED", {"code": "TRANSACTION_ID_CONFLICT", "field": "transactionId"}),
        (4, "s-3", "REJECTED", {"code": "UNKNOWN_METRIC", "field": "metricCode"}),
        (5, "s-4", "REJECTED", {"code": "MISSING_PROPERTY", "field": "seconds"}),
        (6, "s-5", "REJECTED", {"code": "UNKNOWN_CUSTOMER", "field": "customerId"}),
        (7, "s-6", "REJECTED", {"code": "INVALID_TIMESTAMP", "field": "timestamp"}),
    ]
    # Sent again, the whole batch changes nothing: the accepted ones are duplicates now.
    again = data(await gql(client, w["service"], INGEST, {"events": events[:2]}))
    assert again["ingestUsageEvents"]["duplicates"] == 2

    # By external id too.
    usage = data(await gql(client, w["admin"], CURRENT, {"c": "acme"}))["currentUsage"]
    assert usage["subscription"]["id"] == w["subscription"]
    assert (usage["currency"], usage["periodStart"], usage["periodEnd"]) == (
        "EUR",
        "2027-03-01T00:00:00+00:00",
        "2027-04-01T00:00:00+00:00",
    )
    assert usage["amount"] == {"amountMinor": 1_350, "currency": "EUR"}
    assert usage["charges"] == [
        {
            "chargeId": charge["charge"]["id"],
            "invoiceDisplayName": "Streaming minutes",
            "model": "GRADUATED",
            "metric": {"code": "minutes", "name": "Minutes"},
            "units": "150",
            "billedUnits": "150",
            "exactAmount": "13.5",
            "events": 2,
            "amount": {"amountMinor": 1_350},
            "unitPrice": None,
            "tiers": TIER_ROWS,
            "groups": GROUPS,
        }
    ]
    log = data(await gql(client, w["admin"], EVENTS, {"c": customer.public_id, "m": "minutes"}))
    log = log["meteredEvents"]
    assert log["totalCount"] == 2
    assert [(n["transactionId"], n["timestamp"], n["metric"]["code"]) for n in log["nodes"]] == [
        ("s-1", "2027-03-01T00:00:30+00:00", "minutes"),
        ("s-2", "2027-03-01T00:01:00+00:00", "minutes"),
    ]
    assert log["nodes"][1]["properties"] == {"seconds": "4170", "quality": "SD"}
    assert log["nodes"][0]["subscription"] == {"id": w["subscription"]}
    plan = data(await gql(client, w["admin"], PLAN_CHARGES, {"id": w["plan"].public_id}))
    assert plan["plan"]["charges"] == [
        {
            "id": charge["charge"]["id"],
            "invoiceDisplayName": "Streaming minutes",
            "metric": {"code": "minutes"},
        }
    ]


async def test_who_may_ingest_and_read_usage(client: httpx.AsyncClient, db: str) -> None:
    w = await metered_world(client)
    customer, tenant = w["customer"], w["tenant"]
    neighbour = await make_customer(tenant=tenant, name="Neighbour", external_id="nb")
    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=customer)
    other_token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=neighbour)
    event = minutes_event("p-1", 600)
    event["customerId"] = customer.public_id

    # A customer token may read its own usage, never send events.
    refused = data(await gql(client, token, INGEST, {"events": [event]}))["ingestUsageEvents"]
    assert (refused["__typename"], refused["code"]) == ("PermissionDeniedError", "FORBIDDEN")
    sent = data(await gql(client, w["service"], INGEST, {"events": [event]}))
    assert sent["ingestUsageEvents"]["accepted"] == 1
    mine = data(await gql(client, token, CURRENT, {"c": customer.public_id}))["currentUsage"]
    assert mine["charges"][0]["units"] == "10" and mine["amount"]["amountMinor"] == 100
    # Another customer's usage reads as missing, to a customer token of the same tenant...
    body = await gql(client, other_token, CURRENT, {"c": customer.public_id})
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await gql(client, other_token, EVENTS, {"c": customer.public_id, "m": None})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    # ... and to another tenant's admin, by id or external id.
    foreign = await make_key(tenant=await make_tenant(name="Other"))
    for ref in (customer.public_id, "acme"):
        body = await gql(client, foreign, CURRENT, {"c": ref})
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", ref
    # Managing metrics and charges is an admin's.
    denied = data(
        await gql(
            client,
            w["service"],
            CREATE_METRIC,
            {"i": {"code": "calls", "name": "Calls", "aggregation": "COUNT"}},
        )
    )["createBillableMetric"]
    assert denied == {"__typename": "PermissionDeniedError", "code": "FORBIDDEN", "field": None}


async def test_more_than_a_thousand_events_are_refused_whole(
    client: httpx.AsyncClient, db: str
) -> None:
    w = await metered_world(client)
    events = [
        {**minutes_event(f"bulk-{n}", 60), "customerId": w["customer"].public_id}
        for n in range(1_001)
    ]
    refused = data(await gql(client, w["service"], INGEST, {"events": events}))
    assert refused["ingestUsageEvents"]["__typename"] == "ValidationError"
    assert refused["ingestUsageEvents"]["code"] == "TOO_MANY_EVENTS"
    assert refused["ingestUsageEvents"]["field"] == "events"
    log = data(await gql(client, w["admin"], EVENTS, {"c": "acme", "m": None}))
    assert log["meteredEvents"]["totalCount"] == 0
    accepted = data(await gql(client, w["service"], INGEST, {"events": events[:1_000]}))
    assert accepted["ingestUsageEvents"]["accepted"] == 1_000
    assert accepted["ingestUsageEvents"]["results"] == []


async def test_the_renewal_invoice_shows_the_usage_line_in_detail(
    client: httpx.AsyncClient, db: str
) -> None:
    w = await metered_world(client)
    events = [minutes_event("i-1", 4_800), minutes_event("i-2", 4_170, "SD")]
    for event in events:
        event["externalCustomerId"] = "acme"
    sent = data(await gql(client, w["service"], INGEST, {"events": events}))
    assert sent["ingestUsageEvents"]["accepted"] == 2
    advanced = data(
        await gql(
            client, w["admin"], ADVANCE, {"id": w["clock"].public_id, "to": "2027-04-01T00:00:00Z"}
        )
    )
    assert advanced["advanceTestClock"]["__typename"] == "TestClockSuccess"
    invoices = data(await gql(client, w["admin"], INVOICES, {"s": w["subscription"]}))
    first, renewal = invoices["invoices"]["nodes"]
    assert [line["usage"] for line in first["lines"]] == [None]  # the advance fee only
    # March's usage in arrears, on the invoice of April's fee.
    usage, fee = renewal["lines"]
    assert (fee["kind"], fee["usage"]) == ("PLAN", None)
    assert {k: usage[k] for k in ("kind", "description", "amount", "periodStart", "periodEnd")} == {
        "kind": "USAGE",
        "description": "Streaming minutes",
        "amount": {"amountMinor": 1_350},
        "periodStart": "2027-03-01T00:00:00+00:00",
        "periodEnd": "2027-04-01T00:00:00+00:00",
    }
    assert usage["usage"] == {
        "term": None,
        "chargeId": w["charge"]["charge"]["id"],
        "metricCode": "minutes",
        "model": "GRADUATED",
        "units": "150",
        "billedUnits": "150",
        "exactAmount": "13.5",
        "events": 2,
        "unitPrice": None,
        "amount": {"amountMinor": 1_350},
        "tiers": TIER_ROWS,
        "groups": GROUPS,
    }
    # The new period starts empty.
    now = data(await gql(client, w["admin"], CURRENT, {"c": "acme"}))["currentUsage"]
    assert now["periodStart"] == "2027-04-01T00:00:00+00:00"
    assert now["amount"]["amountMinor"] == 0 and now["charges"][0]["tiers"] == []


def test_the_fast_event_conversion_matches_strawberrys() -> None:
    from strawberry.types.arguments import convert_argument

    from api.schema import build_schema
    from schema.usage_inputs import UsageEventInput

    schema = build_schema()
    registry, config = schema.schema_converter.scalar_registry, schema.config
    definition = UsageEventInput.__strawberry_definition__  # type: ignore[attr-defined]
    values = [
        {
            "transactionId": "t-1",
            "metricCode": "minutes",
            "customerId": "cus_x",
            "externalCustomerId": None,
            "subscriptionId": "sub_y",
            "timestamp": 1_803_859_260,
            "properties": {"seconds": 60, "tags": ["a", {"b": None}]},
        },
        {
            "transactionId": "t-2",
            "metricCode": "minutes",
            "externalCustomerId": "acme",
            "timestamp": "2027-03-01T00:00:00Z",
        },
    ]
    fast = [convert_argument(v, UsageEventInput, registry, config) for v in values]
    hook, definition.from_input = definition.from_input, None
    try:
        generic = [convert_argument(v, UsageEventInput, registry, config) for v in values]
    finally:
        definition.from_input = hook
    assert fast == generic
