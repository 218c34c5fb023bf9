"""VAT ids and the reverse charge (issue 13, item 11): a German customer with taxId
"DE12", "hello" or a French number used to get reverse charge at 0 % VAT."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from db.models import Customer
from domain import validation, vat_numbers
from domain.errors import ValidationError
from domain.tenancy.access import Role
from tests.api.helpers import data, gql
from tests.factories import make_customer, make_key

CREATE = """mutation($taxId: String, $country: String) {
  createCustomer(input: {name: "Müller GmbH", address: {country: $country}, taxId: $taxId}) {
    __typename ... on CustomerSuccess { customer { id taxId taxIdStatus } }
    ... on Error { code field } } }"""
UPDATE = """mutation($id: ID!, $input: UpdateCustomerInput!) {
  updateCustomer(id: $id, input: $input) {
    __typename ... on CustomerSuccess { customer { taxId taxIdStatus } }
    ... on Error { code field } } }"""
STATUS = """query($id: ID!) { customer(id: $id) { taxId taxIdStatus } }"""
INVOICE = """mutation($c: ID!) { createInvoice(input: {customerId: $c, finalize: true,
  items: [{description: "Audit", unitPrice: {currency: "EUR", amount: "100.00"}}]}) {
  __typename ... on InvoiceSuccess { invoice { reverseCharge tax { amountMinor } } }
  ... on Error { code message field } } }"""
VALID_DE = "DE129273398"


def test_eu_vat_numbers_are_checked_per_country() -> None:
    assert validation.vat_id("de 129.273.398") == VALID_DE
    assert validation.vat_id("GR094259216") == "EL094259216"  # Greece is EL
    assert validation.vat_id("US123456789") == "US123456789"  # not EU: format only
    for bad in ("DE12", "DE123456789", "hello", "FR00303265045"):
        with pytest.raises(ValidationError) as raised:
            validation.vat_id(bad, field="taxId")
        assert (raised.value.code, raised.value.field) == ("INVALID_TAX_ID", "taxId")
    assert vat_numbers.status(VALID_DE, "DE") is vat_numbers.TaxIdStatus.VALID
    assert vat_numbers.status("FR40303265045", "DE") is vat_numbers.TaxIdStatus.INVALID
    assert vat_numbers.status("DE12", "DE") is vat_numbers.TaxIdStatus.INVALID
    assert vat_numbers.status("EL094259216", "GR") is vat_numbers.TaxIdStatus.VALID
    assert vat_numbers.status("US123456789", "US") is vat_numbers.TaxIdStatus.NOT_CHECKED
    assert vat_numbers.status(None, "DE") is vat_numbers.TaxIdStatus.NONE
    assert not vat_numbers.valid_for(VALID_DE, None)


async def test_only_a_valid_id_of_the_customers_country_gets_reverse_charge(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    key = await make_key(tenant=tenant)  # a French seller, no OSS registration
    for bad, code in (
        ("DE12", "INVALID_TAX_ID"),
        ("hello", "INVALID_TAX_ID"),
        ("FR40303265045", "TAX_ID_COUNTRY_MISMATCH"),
    ):
        refused = data(await gql(client, key, CREATE, {"taxId": bad, "country": "DE"}))
        assert refused["createCustomer"] == {
            "__typename": "ValidationError",
            "code": code,
            "field": "taxId",
        }
    assert await Customer.filter(tenant_id=tenant.id).count() == 0

    made = data(await gql(client, key, CREATE, {"taxId": VALID_DE, "country": "DE"}))
    customer = made["createCustomer"]["customer"]
    assert (customer["taxId"], customer["taxIdStatus"]) == (VALID_DE, "VALID")
    invoice = data(await gql(client, key, INVOICE, {"c": customer["id"]}))["createInvoice"]
    assert invoice["invoice"] == {"reverseCharge": True, "tax": {"amountMinor": 0}}
    moved = data(
        await gql(
            client, key, UPDATE, {"id": customer["id"], "input": {"address": {"country": "AT"}}}
        )
    )["updateCustomer"]
    assert (moved["__typename"], moved["code"]) == ("ValidationError", "TAX_ID_COUNTRY_MISMATCH")

    # An id stored before the checks existed is shown as INVALID and taxed as B2C.
    await Customer.filter(public_id=customer["id"]).update(tax_id="DE12")
    status = data(await gql(client, key, STATUS, {"id": customer["id"]}))["customer"]
    assert status == {"taxId": "DE12", "taxIdStatus": "INVALID"}
    invoice = data(await gql(client, key, INVOICE, {"c": customer["id"]}))["createInvoice"]
    assert invoice["invoice"] == {"reverseCharge": False, "tax": {"amountMinor": 2000}}


async def test_a_customer_token_cannot_set_its_own_tax_id(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    customer = await make_customer(tenant=tenant, country="DE")
    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=customer)
    denied = data(
        await gql(client, token, UPDATE, {"id": customer.public_id, "input": {"taxId": VALID_DE}})
    )["updateCustomer"]
    assert denied["__typename"] == "PermissionDeniedError"
    assert (await Customer.get(id=customer.id)).tax_id is None
    renamed = data(
        await gql(client, token, UPDATE, {"id": customer.public_id, "input": {"name": "Müller AG"}})
    )["updateCustomer"]
    assert renamed["customer"] == {"taxId": None, "taxIdStatus": "NONE"}
