"""A bounded schemathesis run in GraphQL mode: every query and mutation of the schema
with generated arguments, sent as an admin of a test tenant; none may answer 5xx or
the masked "Unexpected error.".

Generation is derandomised (the same documents on every run) and bounded to a few
documents per operation, so the run is repeatable and short. The documents are
generated first and then sent through the app in the test's own event loop (the
database connections live there), not through schemathesis' synchronous client.
"""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis.graphql
from graphql import (
    BooleanValueNode,
    IntValueNode,
    NameNode,
    ObjectFieldNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from api.schema import build_schema
from tests.api.helpers import post
from tests.factories import make_customer, make_key, make_plan

EXAMPLES_PER_OPERATION = 4
# Operations whose generated arguments would make the run long for no extra coverage
# of input handling (they are exercised by their own tests).
SKIPPED = {"Mutation.advanceTestClock"}

_text = st.text(max_size=12)


def _string(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[ValueNode]:
    return strategy.map(lambda value: StringValueNode(value=value))


def _json_object(value: dict[str, Any]) -> ValueNode:
    fields = []
    for key, item in value.items():
        if isinstance(item, bool):
            node: ValueNode = BooleanValueNode(value=item)
        elif isinstance(item, int):
            node = IntValueNode(value=str(item))
        else:
            node = StringValueNode(value=str(item))
        fields.append(ObjectFieldNode(name=NameNode(value=key), value=node))
    return ObjectValueNode(fields=tuple(fields))


def _register_scalars(ids: list[str]) -> None:
    big = st.one_of(
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.sampled_from([0, 1, -1, 2**63, -(2**63) - 1, 2**70]),
    )
    schemathesis.graphql.scalar("BigInt", big.map(lambda n: IntValueNode(value=str(n))))
    schemathesis.graphql.scalar(
        "DateTime",
        _string(
            st.sampled_from(
                ["2030-01-01T00:00:00Z", "2024-02-29T12:30:00+01:00", "1999-12-31T23:59:59Z"]
            )
            | _text
        ),
    )
    schemathesis.graphql.scalar(
        "Date", _string(st.sampled_from(["2030-01-01", "2024-02-29", "1970-01-01"]) | _text)
    )
    schemathesis.graphql.scalar(
        "Decimal", _string(st.sampled_from(["0", "12.5", "100", "-3", "1e3", "١٢"]) | _text)
    )
    schemathesis.graphql.scalar(
        "JSON",
        st.dictionaries(_text, st.one_of(st.integers(), _text, st.booleans()), max_size=3).map(
            _json_object
        ),
    )
    # Real ids of the tenant (and a few that are not), so mutations get past the lookup.
    schemathesis.graphql.scalar("ID", _string(st.sampled_from(ids) | _text))


def _documents() -> list[tuple[str, str]]:
    schema = schemathesis.graphql.from_file(build_schema().as_str())
    documents: list[tuple[str, str]] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in SKIPPED:
            continue

        @settings(
            derandomize=True,
            database=None,
            max_examples=EXAMPLES_PER_OPERATION,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            deadline=None,
        )
        @given(operation.as_strategy())
        def collect(case: Any) -> None:
            body = case.body
            documents.append(
                (case.operation.label, body if isinstance(body, str) else body["query"])
            )

        collect()
    return documents


async def test_generated_documents_never_get_a_5xx_or_a_masked_error(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    key = await make_key(tenant=tenant)
    customer = await make_customer(tenant=tenant, external_id="fuzz-customer")
    plan = await make_plan(tenant=tenant, code="fuzz-plan")
    _register_scalars([customer.public_id, "fuzz-customer", plan.public_id, "cus_nope"])
    documents = _documents()
    assert len(documents) > 200

    failures = []
    for label, query in documents:
        response = await post(client, key, query)
        body = response.text
        if response.status_code >= 500 or "Unexpected error." in body:
            failures.append(f"{label}: HTTP {response.status_code}\n{query}\n{body[:500]}")
    assert not failures, f"{len(failures)} of {len(documents)}:\n\n" + "\n\n".join(failures)
