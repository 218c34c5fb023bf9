"""Tenant isolation: every query and mutation, tried with another tenant's key, treats
the other tenant's ids exactly like ids that do not exist and changes nothing."""

from __future__ import annotations

import httpx

from api.schema import Mutation, Query
from db.credit_models import CreditEntry, CreditReservation, CreditWallet
from db.invoice_models import CreditNote, Invoice, TaxRate
from db.models import AddOn, Coupon, Customer, Plan, Subscription
from db.models import TestClock as ClockRow
from db.payment_models import Payment, PaymentMethod, WebhookEndpoint
from db.usage_models import BillableMetric, Charge, Incident, SpendingAlert, UsageEvent
from domain.usage.metrics import create_metric
from tests.api import isolation_royalties as royalties
from tests.api import isolation_usage as usage
from tests.api.helpers import data, gql
from tests.api.isolation_cases import (
    BY_CODE,
    BY_EXTERNAL_ID,
    COMPUTED,
    CREATES_OWN,
    LISTS,
    MUTATIONS,
    NOT_FOUND,
    OBJECTS,
    OWN,
    PER_ITEM,
    QUERIES,
    make_victim,
)
from tests.factories import admin_of, make_key, make_tenant


def _fields(cls: type) -> set[str]:
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    return {f.graphql_name or _camel(f.python_name) for f in definition.fields}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def test_every_operation_has_an_isolation_case() -> None:
    assert _fields(Query) == set(QUERIES) | set(COMPUTED) | set(LISTS) | OWN
    per_event, own = set(usage.PER_EVENT) | set(royalties.PER_READ), usage.CREATES_OWN
    own |= royalties.CREATES_OWN
    assert _fields(Mutation) == set(MUTATIONS) | set(PER_ITEM) | per_event | CREATES_OWN | own


async def test_foreign_ids_read_as_missing(client: httpx.AsyncClient, db: str) -> None:
    victim = await make_victim()
    attacker = await make_tenant(name="Attacker")
    key = await make_key(tenant=attacker)

    for name, (document, kind) in QUERIES.items():
        body = await gql(client, key, document, {"id": victim[kind]})
        assert body == {"data": {name: None}}, name
    for name, (document, kind) in COMPUTED.items():
        body = await gql(client, key, document, {"id": victim[kind]})
        assert body["data"] in (None, {name: None}), name
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", name
    for document in [*BY_CODE, *usage.BY_CODE, *royalties.BY_CODE]:
        body = await gql(client, key, document)
        assert list(data(body).values()) == [None], document
    for document in [*BY_EXTERNAL_ID, *usage.BY_EXTERNAL_ID]:
        body = await gql(client, key, document)
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", document
    for name, document in LISTS.items():
        result = data(await gql(client, key, document))[name]
        assert victim["tenant"].public_id not in str(result)
        rows = result if isinstance(result, list) else result["nodes"]
        objects = (*OBJECTS, *usage.OBJECTS, *royalties.OBJECTS)
        assert all(victim[k] not in str(rows) for k in objects), name
    tenant = data(await gql(client, key, "{ tenant { id name } viewer { tenant { id } } }"))
    assert tenant["tenant"]["name"] == "Attacker"


async def test_foreign_ids_cannot_be_changed(client: httpx.AsyncClient, db: str) -> None:
    victim = await make_victim()
    attacker = await make_tenant(name="Attacker")
    attacker.test_mode = True
    await attacker.save()
    key = await make_key(tenant=attacker)
    for name, (document, kind) in MUTATIONS.items():
        result = data(await gql(client, key, document, {"id": victim[kind]}))[name]
        assert result["__typename"] == NOT_FOUND, name
    for name, (document, kind) in PER_ITEM.items():
        result = data(await gql(client, key, document, {"id": victim[kind]}))[name]
        assert [r["__typename"] for r in result["results"]] == [NOT_FOUND], name
    # The attacker has a metric of that code, so only the customer is foreign.
    own = {"code": "victim-metric", "name": "Mine", "aggregation": "COUNT"}
    await create_metric(admin_of(attacker), own)
    for name, (document, kind) in usage.PER_EVENT.items():
        result = data(await gql(client, key, document, {"id": victim[kind]}))[name]
        assert result["results"] == [
            {"status": "REJECTED", "error": {"code": "UNKNOWN_CUSTOMER"}}
        ], name
    for name, (document, kind, code) in royalties.PER_READ.items():
        result = data(await gql(client, key, document, {"id": victim[kind]}))[name]
        assert result["results"] == [{"status": "REJECTED", "error": {"code": code}}], name
    # Nothing of the victim's changed, and the attacker created nothing.
    assert (await Plan.get(public_id=victim["plan"])).name == "Test plan"
    assert (await Plan.get(public_id=victim["plan"])).status == "active"
    assert (await AddOn.get(public_id=victim["add_on"])).name == "A"
    assert (await Coupon.get(public_id=victim["coupon"])).status == "active"
    assert (await Customer.get(public_id=victim["customer"])).name == "Victim"
    assert not await Coupon.exists(code="STEAL")
    sub = await Subscription.get(public_id=victim["subscription"])
    assert (sub.status, sub.quantity, sub.cancel_at_period_end) == ("active", 1, False)
    assert (await Invoice.get(public_id=victim["invoice"])).status == "open"
    assert (await Invoice.get(public_id=victim["draft"])).status == "draft"
    assert await CreditNote.filter(invoice__public_id=victim["invoice"]).count() == 1
    assert (await ClockRow.get(public_id=victim["test_clock"])).frozen_time.year == 2026
    assert await TaxRate.exists(public_id=victim["tax_rate"])
    assert (await Payment.get(public_id=victim["payment"])).refunded_minor == 0
    method = await PaymentMethod.get(public_id=victim["payment_method"])
    assert method.detached_at is None and method.is_default  # its first, so its default
    assert (await WebhookEndpoint.get(public_id=victim["endpoint"])).url.endswith("/victim-hook")
    assert (await Customer.get(public_id=victim["customer"])).payment_provider is None
    wallet = await CreditWallet.get(customer__public_id=victim["customer"])
    assert (wallet.balance, wallet.reserved, wallet.blocked) == (9, 1, False)
    assert await CreditEntry.filter(wallet_id=wallet.id).count() == 2  # grant, consumption
    assert (await CreditReservation.get(public_id=victim["reservation"])).status == "held"
    assert await CreditWallet.filter(tenant_id=attacker.id).count() == 0
    assert await Subscription.filter(tenant_id=attacker.id).count() == 0
    assert await Invoice.filter(tenant_id=attacker.id).count() == 0
    metric = await BillableMetric.get(public_id=victim["metric"])
    assert (metric.name, metric.archived_at) == ("Calls", None)
    assert (await Charge.get(public_id=victim["charge"])).archived_at is None
    assert await Charge.filter(plan__public_id=victim["plan"]).count() == 1
    assert (await Plan.get(public_id=victim["plan"])).usage_terms is None
    assert await Incident.exists(public_id=victim["incident"])
    assert await Incident.filter(tenant_id=attacker.id).count() == 0
    assert await SpendingAlert.exists(public_id=victim["alert"])
    assert await SpendingAlert.filter(tenant_id=attacker.id).count() == 0
    assert await UsageEvent.filter(tenant_id=attacker.id).count() == 0
    await royalties.assert_victim_royalties_unchanged(victim, attacker.id)
