"""Query limits: depth, aliases and the size of a document once its fragments are
expanded, measured with each fragment visited once (a fragment-spread bomb froze the
server for minutes)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import parse

from schema.limits import MAX_EXPANDED_FIELDS, measure
from tests.api.helpers import data, gql, post
from tests.factories import make_key


def bomb(levels: int) -> str:
    """Each fragment spreads the previous one twice: 2^levels selections expanded,
    about 900 bytes at 23 levels."""
    parts = ["fragment F0 on Query { __typename }"]
    parts += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    return f"query {{ ...F{levels} }}\n" + "\n".join(parts)


def aliased_bomb(levels: int) -> str:
    parts = ["fragment F0 on Query { a: __typename }"]
    parts += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    return f"query {{ ...F{levels} }}\n" + "\n".join(parts)


@pytest.fixture
async def key(tenant: Any) -> str:
    return await make_key(tenant=tenant)


@pytest.mark.parametrize("levels", [23, 40])
def test_measuring_a_bomb_visits_each_selection_once(levels: int) -> None:
    measured = measure(parse(bomb(levels)))
    selections = 1 + 1 + 2 * levels  # the operation's spread, F0's field, two per fragment
    assert measured.steps <= 2 * selections  # linear: spreads listed once, then walked once
    assert measured.operations["anonymous"].fields == MAX_EXPANDED_FIELDS + 1  # capped


@pytest.mark.parametrize("levels", [23, 40])
async def test_fragment_bombs_are_refused_as_too_large(
    client: httpx.AsyncClient, key: str, levels: int
) -> None:
    response = await post(client, key, bomb(levels))
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_LARGE"
    assert str(MAX_EXPANDED_FIELDS) in error["message"]


async def test_aliases_spread_through_fragments_are_counted_without_expanding(
    client: httpx.AsyncClient, key: str
) -> None:
    response = await post(client, key, aliased_bomb(30))
    assert response.status_code == 400
    codes = {e["extensions"]["code"] for e in response.json()["errors"]}
    assert codes == {"TOO_MANY_ALIASES", "QUERY_TOO_LARGE"}


async def test_ordinary_fragments_still_work(client: httpx.AsyncClient, key: str) -> None:
    document = """query { ...Who viewer { ...Role } }
    fragment Who on Query { viewer { ...Role } }
    fragment Role on Viewer { role }"""
    assert data(await gql(client, key, document)) == {"viewer": {"role": "ADMIN"}}


async def test_depth_counts_through_fragments(tenant: Any, key: str) -> None:
    from api.context import Context
    from api.schema import build_schema
    from domain.events.bus import InProcessBus
    from domain.tenancy.api_keys import authenticate

    schema = build_schema(max_depth=3)
    ctx = Context(request=None, response=None, bus=InProcessBus())  # type: ignore[arg-type]
    ctx.sign_in(await authenticate(key), None)
    deep = """{ viewer { ...K } }
    fragment K on Viewer { apiKey { customer { ...A } } }
    fragment A on Customer { address { city } }"""
    result = await schema.execute(deep, context_value=ctx)
    assert result.errors and result.errors[0].message == (
        "'anonymous' exceeds maximum operation depth of 3"
    )
    assert result.errors[0].extensions == {"code": "QUERY_TOO_DEEP"}
    shallow = "{ viewer { ...K } } fragment K on Viewer { apiKey { customer { id } } }"
    assert (await schema.execute(shallow, context_value=ctx)).errors is None


def test_fragment_cycles_and_long_chains_are_measured_without_recursion_errors() -> None:
    chain = ["fragment C0 on Query { __typename }"]
    chain += [f"fragment C{i} on Query {{ ...C{i - 1} }}" for i in range(1, 1500)]
    measured = measure(parse("{ ...C1499 }\n" + "\n".join(chain)))
    assert measured.operations["anonymous"].fields == 1
    cycle = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A __typename }"
    assert measure(parse(cycle)).operations["anonymous"].fields == 1


async def test_a_field_repeated_past_the_limit_is_refused_before_validation(
    client: httpx.AsyncClient, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # graphql-core compares every pair of same-named fields in a selection set: 1,200
    # copies of `viewer { role }` took over a second. The document must not reach it.
    from schema import caches

    validated: list[Any] = []
    real = caches.validate_document
    monkeypatch.setattr(caches, "validate_document", lambda *a: validated.append(a) or real(*a))
    response = await post(client, key, "{" + " viewer { role }" * 1200 + " }")
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_LARGE"
    assert validated == []
    # Twenty of them are an ordinary (if odd) document.
    ok = await gql(client, key, "{" + " viewer { role }" * 20 + " }")
    assert data(ok)["viewer"]["role"] == "ADMIN"
    assert len(validated) == 1
