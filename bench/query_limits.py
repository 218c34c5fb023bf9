"""The fragment-spread bomb (issue 13, item 2): validating a document whose fragments
each spread the previous one twice, with Strawberry's depth and alias limiters (2^N
walks) and with Tally's rule (each fragment measured once), against graphql-core's
own specified rules on the same document in the same run.

    .venv/bin/python -m bench limits
"""

from __future__ import annotations

import time
from typing import Any

from graphql import parse, specified_rules, validate
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

from api.schema import MAX_ALIASES, MAX_DEPTH, build_schema
from schema.caches import _validate
from schema.limits import _rules


def bomb(levels: int) -> str:
    parts = ["fragment F0 on Query { __typename }"]
    for n in range(1, levels + 1):
        parts.append(f"fragment F{n} on Query {{ ...F{n - 1} ...F{n - 1} }}")
    return f"query {{ ...F{levels} }}\n" + "\n".join(parts)


def _seconds(schema: Any, document: Any, rules: Any) -> float:
    started = time.perf_counter()
    validate(schema, document, rules)
    return time.perf_counter() - started


async def run() -> dict[str, Any]:
    schema = build_schema()._schema
    ours = [*specified_rules, *_rules(MAX_DEPTH, MAX_ALIASES)]
    stock = [*specified_rules, depth_rule(MAX_DEPTH, None), alias_rule(MAX_ALIASES)]
    result: dict[str, Any] = {"benchmark": "validating the fragment-spread bomb"}
    for levels in (12, 16, 18, 40):
        document = parse(bomb(levels))
        baseline = _seconds(schema, document, specified_rules)
        tally = _seconds(schema, document, ours)
        row = f"graphql-core's rules {baseline * 1e3:.1f} ms, + Tally's {tally * 1e3:.1f} ms"
        if levels <= 18:  # beyond, Strawberry's limiters take minutes
            strawberry = _seconds(schema, document, stock)
            row += f", + Strawberry's {strawberry * 1e3:.0f} ms"
        result[f"{levels} levels ({len(bomb(levels))} bytes)"] = row
    # One field repeated: graphql-core's overlap check compares every pair.
    text = "{" + " viewer { role }" * 1200 + " }"
    document = parse(text)
    baseline = _seconds(schema, document, specified_rules)
    started = time.perf_counter()
    refused = _validate(schema, document, ours)
    tally = time.perf_counter() - started
    assert refused and refused[0].extensions["code"] == "QUERY_TOO_LARGE"
    result[f"1,200 x viewer ({len(text)} bytes)"] = (
        f"graphql-core's rules {baseline * 1e3:.0f} ms, Tally refuses in {tally * 1e3:.2f} ms"
    )
    return result
