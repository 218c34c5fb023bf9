"""Tenant tax configuration: registrations and configured rates, read from the
database and handed to the pure rules in `rules.py`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from db.invoice_models import TaxRate
from domain.invoicing.tax.rules import ConfiguredRate, TaxContext, TaxDecision, decide

RateTable = dict[tuple[str, str], list[ConfiguredRate]]


async def rate_tables(tenant_ids: Iterable[int]) -> dict[int, RateTable]:
    tables: dict[int, RateTable] = defaultdict(lambda: defaultdict(list))
    ids = sorted(set(tenant_ids))
    if ids:
        rows = await TaxRate.filter(tenant_id__in=ids).values(
            "tenant_id", "country", "region", "rate_bp", "name", "valid_from"
        )
        for row in rows:
            tables[row["tenant_id"]][(row["country"], row["region"])].append(
                ConfiguredRate(row["valid_from"], row["rate_bp"], row["name"])
            )
    return {tenant_id: tables[tenant_id] for tenant_id in ids}


def tax_for(tenant: Any, customer: Any, table: RateTable, on: date) -> TaxDecision:
    return decide(
        TaxContext(
            tenant_country=tenant.country,
            registrations=frozenset(tenant.tax_registrations or ()),
            customer_country=customer.country,
            customer_region=customer.state or "",
            customer_vat_id=customer.tax_id,
            on=on,
            configured=table,
        )
    )
