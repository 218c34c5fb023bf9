"""The royalty benchmark (bench/royalties.py) at a tiny size, so CI keeps it working:
its builder loads a world (COPY, so PostgreSQL only), the run and the set-based SQL
baseline agree for every payee to the minor unit, and a re-run finds the period done."""

from __future__ import annotations

import asyncpg
import pytest

from bench.royalties import measure
from bench.royalties_data import Sizes, build
from db.royalty_models import RoyaltyStatement
from tests.conftest import BACKEND
from tests.factories import make_tenant

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="the builder loads with COPY")


async def test_the_royalty_benchmark_agrees_with_its_baseline_at_a_tiny_size(
    database_url: str,
) -> None:
    tenant = await make_tenant(country="FR", currency="EUR")
    sizes = Sizes(payees=12, works=60, sales=300, subscription_invoices=30, reads=5_000)
    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        world = await build(conn, tenant.id, sizes)
        measured = await measure(conn, world)
    finally:
        await conn.close()
    found = measured["found"]
    assert found["differ"] == []
    assert found["payees"] == found["statements"] == 12
    assert found["run_sale"] == found["baseline_sale"] > 0
    assert found["run_read"] == found["baseline_read"] > 0
    # The last payees' works sell least: some stay under the 100 EUR threshold.
    assert found["payable_payees"] > 0 and found["carried_payees"] > 0
    assert measured["report"].statements_created == 12
    assert measured["rerun"].already_complete
    carried = await RoyaltyStatement.filter(tenant_id=tenant.id, status="carried").count()
    assert carried == found["carried_payees"]
