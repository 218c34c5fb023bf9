"""Usage recipes: a streaming and AI-inference catalog built on the generic engine
(docs/USAGE.md walks through it). The demo seeds it; a tenant can copy it.

- Streaming minutes: session seconds, converted per event to started minutes.
- Bandwidth: bytes summed over the period, shown in GB (10^9) to three decimals.
- Tokens: one metric split by `direction` (input, output) and `model`; input and
  output priced by two charges filtering on the direction.
- Concurrent streams: a time-weighted sum of level changes (+1 starts, -1 stops),
  in stream-hours, graduated.
- Infrastructure: the provider's cost passed through with a 15 % markup (a
  percentage charge at 115 %).
- Volume discounts on the period's usage total, and SLA credits from incidents.
"""

from __future__ import annotations

from typing import Any

from domain.catalog.plans import create_plan
from domain.tenancy.access import Principal
from domain.usage.charges import create_charge, set_plan_usage_terms
from domain.usage.metrics import create_metric

CURRENCIES = ("EUR", "USD")


def per_unit(price: str) -> list[dict[str, object]]:
    return [{"currency": c, "properties": {"unitPrice": price}} for c in CURRENCIES]


async def streaming_catalog(admin: Principal) -> Any:
    """The `stream-ai` plan with its metrics, charges and usage terms; returns it."""
    plan = await create_plan(
        admin,
        {
            "code": "stream-ai",
            "name": "Stream & AI",
            "interval": "month",
            "prices": [{"currency": "EUR", "amount": "49"}, {"currency": "USD", "amount": "55"}],
        },
    )
    metrics = [
        (
            "session_seconds",
            "Session time",
            "SUM",
            "seconds",
            {"conversion": {"divisor": "60", "rounding": "ceil", "decimals": 0, "perEvent": True}},
        ),
        (
            "bandwidth",
            "Bandwidth",
            "SUM",
            "bytes",
            {"conversion": {"divisor": "1000000000", "rounding": "round", "decimals": 3}},
        ),
        ("tokens", "Tokens", "SUM", "tokens", {"dimensions": ["direction", "model"]}),
        ("concurrent_streams", "Concurrent streams", "TIME_WEIGHTED_SUM", "change", {}),
        ("infra_cost", "Infrastructure cost", "SUM", "cost", {}),
    ]
    for code, name, aggregation, field_name, extra in metrics:
        await create_metric(
            admin,
            {
                "code": code,
                "name": name,
                "aggregation": aggregation,
                "field_name": field_name,
                **extra,
            },
        )
    charges = [
        ("session_seconds", "PER_UNIT", per_unit("0.02"), "Streaming minutes", None),
        ("bandwidth", "PER_UNIT", per_unit("0.05"), "Bandwidth (GB)", None),
        ("tokens", "PER_UNIT", per_unit("0.000002"), "Input tokens", "input"),
        ("tokens", "PER_UNIT", per_unit("0.000006"), "Output tokens", "output"),
        (
            "concurrent_streams",
            "GRADUATED",
            [
                {
                    "currency": c,
                    "properties": {
                        "tiers": [
                            {"upTo": "1000", "unitPrice": "0.10", "flatFee": "0"},
                            {"upTo": None, "unitPrice": "0.08", "flatFee": "0"},
                        ]
                    },
                }
                for c in CURRENCIES
            ],
            "Stream hours",
            None,
        ),
        (
            "infra_cost",
            "PERCENTAGE",
            [{"currency": c, "properties": {"rate": "115"}} for c in CURRENCIES],
            "Infrastructure (cost + 15 %)",
            None,
        ),
    ]
    for metric, model, prices, name, direction in charges:
        await create_charge(
            admin,
            {
                "plan_id": plan.public_id,
                "metric_id": metric,
                "model": model,
                "prices": prices,
                "invoice_display_name": name,
                "filters": [{"key": "direction", "values": [direction]}] if direction else [],
            },
        )
    await set_plan_usage_terms(
        admin,
        plan.public_id,
        {
            "volumeDiscounts": [
                {"above": {"EUR": "1000", "USD": "1100"}, "percent": "5"},
                {"above": {"EUR": "5000", "USD": "5500"}, "percent": "10"},
            ],
            "slaCredits": [
                {"below": "99.9", "creditPercent": "10"},
                {"below": "99", "creditPercent": "25"},
                {"below": "95", "creditPercent": "50"},
            ],
        },
    )
    return plan
