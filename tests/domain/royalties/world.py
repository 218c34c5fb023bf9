"""A royalty world for run tests: a tenant selling works through real invoices
(created, finalized and paid through the invoicing and payments domain), payees,
works, shares and contracts as rows, and helpers to run a period and read back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from db.invoice_models import Invoice
from db.royalty_models import (
    Contract,
    Payee,
    RoyaltyExchangeRate,
    RoyaltyLedgerEntry,
    RoyaltyStatement,
    Work,
    WorkShare,
)
from domain import clock
from domain.ids import new_id
from domain.invoicing.credit_notes import create_credit_note
from domain.invoicing.service import create_invoice
from domain.payments.operations import record_payment
from domain.royalties.payouts import approve_statement, record_payout
from domain.royalties.run import RunReport, run_period
from domain.royalties.settings import RoyaltyPeriod
from domain.tenancy.access import Principal
from tests.factories import admin_of, make_customer, make_tenant


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class RoyaltyWorld:
    tenant: Any
    admin: Principal
    customer: Any

    @classmethod
    async def create(cls) -> RoyaltyWorld:
        tenant = await make_tenant(country="FR", currency="EUR")
        return cls(tenant, admin_of(tenant), await make_customer(tenant=tenant, name="Reader"))

    async def payee(self, name: str, currency: str = "EUR", **fields: Any) -> Payee:
        at = clock.now()
        return await Payee.create(
            public_id=new_id("payee"),
            tenant_id=self.tenant.id,
            name=name,
            kind=fields.pop("kind", "author"),
            payout_currency=currency,
            created_at=at,
            updated_at=at,
            **fields,
        )

    async def work(
        self,
        code: str,
        owners: dict[Payee, str],
        rules: dict[str, Any] | None = None,
        reserve: dict[str, Any] | None = None,
    ) -> Work:
        at = clock.now()
        work = await Work.create(
            public_id=new_id("work"),
            tenant_id=self.tenant.id,
            code=code,
            title=code.title(),
            created_at=at,
            updated_at=at,
        )
        for payee, share in owners.items():
            await WorkShare.create(
                work_id=work.id,
                payee_id=payee.id,
                share=share,
                effective_from=date(2020, 1, 1),
                created_at=at,
            )
            await Contract.create(
                public_id=new_id("contract"),
                tenant_id=self.tenant.id,
                work_id=work.id,
                payee_id=payee.id,
                rules=rules or {"SALE": {"rate": "70"}, "SUBSCRIPTION_READ": {"rate": "50"}},
                reserve=reserve,
                created_at=at,
                updated_at=at,
            )
        return work

    async def sell(
        self, work: Work, amount_minor: int, at: datetime, *, quantity: int = 1
    ) -> Invoice:
        """A one-off invoice of `quantity` x `amount_minor` EUR for `work`, paid at `at`."""
        with clock.frozen_at(at):
            invoice = await create_invoice(
                self.admin,
                {
                    "customer_id": self.customer.public_id,
                    "currency": "EUR",
                    "finalize": True,
                    "items": [
                        {
                            "description": work.title,
                            "quantity": quantity,
                            "unit_price": {"currency": "EUR", "amount_minor": amount_minor},
                            "work_id": work.public_id,
                        }
                    ],
                },
            )
            await record_payment(
                self.admin,
                {"invoice_id": invoice.public_id, "method": "bank_transfer", "reference": "T"},
            )
        return await Invoice.get(id=invoice.id)

    async def refund(self, invoice: Invoice, at: datetime, amount_minor: int | None = None) -> None:
        data: dict[str, Any] = {"invoice_id": invoice.public_id, "reason": "other"}
        if amount_minor is not None:
            data["amount"] = {"currency": invoice.currency, "amount_minor": amount_minor}
        with clock.frozen_at(at):
            await create_credit_note(self.admin, data)

    async def rate(self, period: str, source: str, target: str, rate: str) -> None:
        await RoyaltyExchangeRate.create(
            tenant_id=self.tenant.id,
            period=period,
            from_currency=source,
            to_currency=target,
            rate=rate,
            updated_at=clock.now(),
        )

    async def run(self, period: str) -> RunReport:
        return await run_period(self.tenant.id, RoyaltyPeriod.parse(period))

    async def statement(self, payee: Payee, period: str) -> RoyaltyStatement:
        return await RoyaltyStatement.get(payee_id=payee.id, period=period)

    async def pay(self, statement: RoyaltyStatement) -> None:
        """Approve the statement and record its payout by bank transfer."""
        await approve_statement(self.admin, statement.public_id)
        await record_payout(self.admin, statement.public_id, reference="transfer 1")

    async def kinds(self, payee: Payee) -> list[tuple[str, int]]:
        entries = await RoyaltyLedgerEntry.filter(payee_id=payee.id).order_by("id")
        return [(e.kind, e.amount_minor) for e in entries]


def figures(s: RoyaltyStatement) -> dict[str, Any]:
    return {
        "status": s.status,
        "opening": s.opening_minor,
        "earnings": s.earnings_minor,
        "returns": s.returns_minor,
        "withheld": s.reserve_withheld_minor,
        "released": s.reserve_released_minor,
        "recouped": s.recouped_minor,
        "advance_left": s.advance_remaining_minor,
        "payable": s.payable_minor,
        "closing": s.closing_minor,
    }


PERCENT = Decimal
