"""Paying an invoice now, the customer present (`payInvoice`): never a second
attempt that could succeed beside one still open."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from db.invoice_models import Invoice
from db.models import Customer, Tenant
from db.payment_models import Payment, PaymentMethod
from domain import clock
from domain.clock import customer_now
from domain.errors import ConflictError, NotFoundError, ValidationError
from domain.invoicing.attempts import default_methods, open_attempt, provider_name
from domain.invoicing.service import InvoiceStatusError, load_invoice
from domain.payments.attempt_sending import process_payment
from domain.payments.collection import OPEN_ATTEMPTS, OPEN_TO_PAYMENT
from domain.payments.methods import owned_method
from domain.payments.providers.base import ProviderError
from domain.payments.providers.registry import credentials_for, provider_for
from domain.tenancy.access import Permission, Principal


class PaymentInProgress(ConflictError):
    code = "PAYMENT_IN_PROGRESS"


def payable(invoice: Invoice) -> None:
    if invoice.status not in OPEN_TO_PAYMENT or invoice.amount_due_minor <= 0:
        raise InvoiceStatusError(
            f"invoice {invoice.public_id} is {invoice.status} with nothing due",
            field="invoiceId",
        )


async def pay_invoice(
    principal: Principal, invoice_id: str, payment_method_id: str | None = None
) -> Payment:
    """Charge an open invoice now (the customer is present: 3-D Secure may be asked),
    with its default method or the one given (which must be the customer's own)."""
    principal.require(Permission.PAYMENT_METHODS_SELF)
    # Two rounds at most: the first may find attempts on another method to cancel
    # at the provider (outside the transaction), the second then pays.
    for _ in range(2):
        async with in_transaction():
            invoice, method, name = await _charge_target(principal, invoice_id, payment_method_id)
            open_attempts = await Payment.filter(
                invoice_id=invoice.id, status__in=OPEN_ATTEMPTS
            ).order_by("-id")
            # An attempt on another method, or for an amount no longer due (a
            # partial payment came in meanwhile), is canceled before paying: handed
            # back, the latter would charge the old amount and refund the excess.
            elsewhere = [
                p
                for p in open_attempts
                if p.payment_method_id != method.id or p.amount_minor != invoice.amount_due_minor
            ]
            if not elsewhere:
                # An attempt already open on this method for what is due is the
                # payment: one that awaits 3-D Secure is handed back (its client
                # secret finishes it) rather than doubled by a second attempt that
                # could also succeed.
                payment = open_attempts[0] if open_attempts else None
                if payment is None:
                    customer = await Customer.get(id=invoice.customer_id)
                    now = await customer_now(customer)
                    payment = await open_attempt(invoice, name, method.id, now, off_session=False)
                    invoice.updated_at = now
                    await invoice.save(update_fields=["attempt_count", "updated_at"])
                break
        await _cancel_attempts(invoice, elsewhere)
    else:  # pragma: no cover - the second round finds nothing left to cancel
        raise PaymentInProgress("an earlier attempt is still open", field="invoiceId")
    return await process_payment(payment.id)


async def _cancel_attempts(invoice: Invoice, attempts: list[Payment]) -> None:
    """Stop open attempts before another one is made: at the provider first, so
    the customer cannot finish one of them afterwards and pay twice."""
    if any(p.status == "processing" for p in attempts):
        raise PaymentInProgress(
            "a payment of this invoice is being processed by the provider", field="invoiceId"
        )
    tenant = await Tenant.get(id=invoice.tenant_id)
    for attempt in attempts:
        if not attempt.provider_ref:
            continue  # never reached the provider (or its answer was lost: then refunded)
        provider = provider_for(attempt.provider, tenant)
        try:
            stopped = await provider.cancel(
                credentials_for(attempt.provider, tenant), attempt.provider_ref
            )
        except ProviderError as exc:
            raise PaymentInProgress(
                f"an earlier attempt could not be canceled: {exc.message}", field="invoiceId"
            ) from exc
        if not stopped:
            raise PaymentInProgress(
                "an earlier attempt can no longer be canceled (it may have been paid)",
                field="invoiceId",
            )
    await Payment.filter(id__in=[p.id for p in attempts], status__in=OPEN_ATTEMPTS).update(
        status="canceled", updated_at=clock.now()
    )


async def _charge_target(
    principal: Principal, invoice_id: str, payment_method_id: str | None
) -> tuple[Invoice, PaymentMethod, str]:
    """The locked invoice, the method to charge and the provider's name."""
    invoice = await load_invoice(principal, invoice_id, lock=True, field="invoiceId", paying=True)
    payable(invoice)
    customer = await Customer.get(id=invoice.customer_id)
    tenant = await Tenant.get(id=invoice.tenant_id)
    name = provider_name(tenant, customer)
    if name == "manual":
        raise ValidationError(
            "this customer pays by transfer: record the payment instead",
            field="invoiceId",
            code="MANUAL_PROVIDER",
        )
    if payment_method_id:
        method = await owned_method(principal, payment_method_id)
        if method.customer_id != customer.id:
            raise NotFoundError(f"no payment method {payment_method_id}", field="paymentMethodId")
    else:
        method_id = (await default_methods([customer.id])).get(customer.id)
        if method_id is None:
            raise ValidationError(
                "the customer has no default payment method",
                field="paymentMethodId",
                code="NO_PAYMENT_METHOD",
            )
        method = await PaymentMethod.get(id=method_id)
    return invoice, method, name
