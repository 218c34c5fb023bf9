"""What callers do with payments: pay an invoice now (paying.py), record a manual
payment, refund (full or partial, with a credit note), and the sandbox's 3-D Secure
step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.invoice_models import Invoice
from db.models import Customer, Tenant
from db.payment_models import Payment, PaymentMethod, Refund
from domain import bounds, clock
from domain.clock import customer_now
from domain.errors import ConflictError, NotFoundError, ValidationError
from domain.idempotency import run_once
from domain.ids import check_id, new_id
from domain.invoicing.service import load_invoice
from domain.money import money_from_input
from domain.pagination import Page, PageRequest, narrowed_to, paginate
from domain.payments.aftermath import after_success
from domain.payments.attempt_sending import charge_request
from domain.payments.collection import Locked, lock_payment, new_refund, settle
from domain.payments.paying import payable
from domain.payments.providers import sandbox
from domain.payments.providers.registry import credentials_for
from domain.payments.providers.sandbox import SandboxProvider
from domain.payments.refund_sending import process_refund
from domain.tenancy.access import Permission, Principal, scope
from domain.unit_of_work import operation

MANUAL_METHODS = ("bank_transfer", "cash", "cheque")
REFUND_REASONS = ("requested_by_customer", "duplicate", "fraudulent", "other")


class PaymentStatusError(ConflictError):
    code = "INVALID_PAYMENT_STATUS"


class RefundTooLarge(ValidationError):
    code = "REFUND_TOO_LARGE"


class Overpayment(ValidationError):
    code = "OVERPAYMENT"


def _amount(value: dict[str, Any] | None, currency: str, field: str) -> int | None:
    if value is None:
        return None
    money = money_from_input(
        currency=value.get("currency"),
        amount_minor=value.get("amount_minor"),
        amount=value.get("amount"),
        field=field,
    )
    if money.currency != currency:
        raise ValidationError(
            f"this is in {currency}", field=f"{field}.currency", code="CURRENCY_MISMATCH"
        )
    if money.amount_minor <= 0:
        raise ValidationError("amount must be above zero", field=field)
    # The ceiling of a line and an invoice holds for a payment too: an allowed
    # overpayment's excess becomes customer credit, and 9·10^18 of it was taken.
    return bounds.amount(money.amount_minor, field=field)


@operation(transaction=False)  # run_once holds the transaction; this collects after-commit
async def record_payment(
    principal: Principal, data: dict[str, Any], *, idempotency_key: str | None = None
) -> Payment:
    """A payment received outside any provider (transfer, cash, cheque)."""
    principal.require(Permission.PAYMENTS_WRITE)

    async def create() -> Payment:
        invoice = await load_invoice(
            principal, data.get("invoice_id") or "", lock=True, field="invoiceId"
        )
        payable(invoice)
        amount = _amount(data.get("amount"), invoice.currency, "amount")
        amount = invoice.amount_due_minor if amount is None else amount
        if amount > invoice.amount_due_minor and not data.get("allow_overpayment"):
            # Most often a typo or the wrong invoice: money kept as credit must be
            # a decision, not a side effect.
            raise Overpayment(
                f"{invoice.amount_due_minor} minor units are due on this invoice: pass"
                " allowOverpayment to keep the excess as customer credit",
                field="amount",
            )
        method = (data.get("method") or "").lower()
        if method not in MANUAL_METHODS:
            raise ValidationError(f"method is one of {', '.join(MANUAL_METHODS)}", field="method")
        reference = (data.get("reference") or "").strip()
        if not reference or len(reference) > 200:
            raise ValidationError("reference is 1-200 characters", field="reference")
        customer = await Customer.get(id=invoice.customer_id)
        now = await customer_now(customer)
        received: datetime = data.get("received_at") or now
        if received.tzinfo is None:
            raise ValidationError("give a time zone", field="receivedAt")
        if received > now:
            raise ValidationError("a payment cannot be received in the future", field="receivedAt")
        payment = await Payment.create(
            public_id=new_id("payment"),
            tenant_id=invoice.tenant_id,
            customer_id=customer.id,
            invoice_id=invoice.id,
            provider="manual",
            method=method,
            attempt=0,
            off_session=False,
            amount_minor=amount,
            currency=invoice.currency,
            status="succeeded",
            idempotency_key=f"tally:{invoice.public_id}:manual:{new_id('payment')}",
            reference=reference,
            succeeded_at=received,
            created_at=now,
            updated_at=now,
        )
        await settle(Locked(invoice, payment), now)
        return payment

    payment = await run_once(
        tenant_id=principal.tenant_id,
        key=idempotency_key,
        operation="recordPayment",
        params=data,
        create=create,
        load=lambda pk: Payment.get(id=pk),
    )
    await after_success(payment.invoice_id)  # an attempt awaiting 3-D Secure, say
    return payment


async def load_payment(principal: Principal, public_id: str, *, field: str = "id") -> Payment:
    principal.require(Permission.PAYMENTS_READ)
    check_id(public_id, "payment", field=field)
    payment = await Payment.get_or_none(public_id=public_id, **scope(principal))
    if payment is None:
        raise NotFoundError(f"no payment {public_id}", field=field)
    return payment


async def get_payment(principal: Principal, public_id: str) -> Payment | None:
    try:
        return await load_payment(principal, public_id)
    except NotFoundError:
        return None


async def refund_payment_and_reload(
    principal: Principal, data: dict[str, Any], *, idempotency_key: str | None = None
) -> tuple[Refund, Payment]:
    """`refund_payment`, and the payment as it stands after the refund."""
    refund = await refund_payment(principal, data, idempotency_key=idempotency_key)
    return refund, await load_payment(principal, data.get("payment_id") or "")


async def refund_payment(
    principal: Principal, data: dict[str, Any], *, idempotency_key: str | None = None
) -> Refund:
    """Refund (part of) a succeeded payment: the provider pays back, then a credit
    note records it on the invoice. The refund row is written before the provider
    call, with an idempotency key of its own, so a retry refunds once."""
    principal.require(Permission.PAYMENTS_WRITE)
    payment = await load_payment(principal, data.get("payment_id") or "", field="paymentId")

    async def create() -> Refund:
        held = await lock_payment(payment.id)
        locked_invoice, locked = held.invoice, held.payment
        if locked.status != "succeeded":
            raise PaymentStatusError(
                f"a {locked.status} payment cannot be refunded", field="paymentId"
            )
        pending = sum(
            r.amount_minor for r in await Refund.filter(payment_id=locked.id, status="pending")
        )
        refundable = min(
            locked.amount_minor - locked.refunded_minor - pending,
            locked_invoice.total_minor - locked_invoice.amount_credited_minor,
        )
        amount = _amount(data.get("amount"), locked.currency, "amount")
        amount = refundable if amount is None else amount
        if amount <= 0 or amount > refundable:
            raise RefundTooLarge(
                f"at most {max(refundable, 0)} minor units of this payment can be refunded",
                field="amount",
            )
        reason = (data.get("reason") or "requested_by_customer").lower()
        if reason not in REFUND_REASONS:
            raise ValidationError(f"reason is one of {', '.join(REFUND_REASONS)}", field="reason")
        return await new_refund(locked, amount, reason=reason, now=clock.now())

    refund = await run_once(
        tenant_id=principal.tenant_id,
        key=idempotency_key,
        operation="refundPayment",
        params=data,
        create=create,
        load=lambda pk: Refund.get(id=pk),
    )
    refund = await process_refund(refund.id)
    await refund.fetch_related("credit_note")
    return refund


async def complete_sandbox_action(principal: Principal, payment_id: str, succeed: bool) -> Payment:
    """Stand in for the customer's browser finishing (or abandoning) 3-D Secure
    on a sandbox payment; the sandbox then reports it by signed webhook, which has
    been received when this returns (the payment is returned as it then stands).
    The customer's own token may: it is the customer's own step (the portal)."""
    if not principal.can(Permission.PAYMENTS_WRITE):
        principal.require(Permission.PAYMENT_METHODS_SELF)
    payment = await load_payment(principal, payment_id, field="paymentId")
    if payment.provider != "sandbox" or payment.status != "requires_action":
        raise PaymentStatusError(
            "only a sandbox payment that requires action can be completed", field="paymentId"
        )
    tenant = await Tenant.get(id=payment.tenant_id)
    invoice = await Invoice.get(id=payment.invoice_id)
    customer = await Customer.get(id=payment.customer_id)
    method = await PaymentMethod.get(id=payment.payment_method_id)
    SandboxProvider(tenant.public_id).complete_action(
        credentials_for("sandbox", tenant),
        charge_request(payment, invoice, customer, method),
        payment.provider_ref or "",
        succeed,
    )
    await sandbox.flush()
    return await load_payment(principal, payment_id, field="paymentId")


async def list_payments(
    principal: Principal,
    page: PageRequest,
    *,
    invoice_id: str | None = None,
    customer_id: str | None = None,
    status: str | None = None,
) -> Page[Payment]:
    principal.require(Permission.PAYMENTS_READ)
    query = Payment.filter(**scope(principal))
    query = narrowed_to(query, "invoice", invoice_id, "invoice", field="invoiceId")
    query = narrowed_to(query, "customer", customer_id, "customer", field="customerId")
    if status is not None:
        query = query.filter(status=status)
    return await paginate(query, page)
