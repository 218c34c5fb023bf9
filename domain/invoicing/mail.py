"""E-mailing an invoice: the PDF attached, subject and body in the customer's
language, over SMTP (`SMTP_URL`) with aiosmtplib. Sending happens outside any
transaction; only a delivered message marks the invoice as sent."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import aiosmtplib

from db.invoice_models import Invoice
from db.models import Customer
from domain import clock
from domain.errors import BillingError, ValidationError
from domain.events import feed
from domain.invoicing.documents import invoice_document, pdf_bytes
from domain.invoicing.i18n import date_text, label, language
from domain.invoicing.service import InvoiceStatusError, load_invoice
from domain.mailer import smtp_options
from domain.money import format_money
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation


class DeliveryError(BillingError):
    code = "EMAIL_NOT_DELIVERED"


async def build_message(invoice: Invoice, sender: str) -> EmailMessage:
    customer = await Customer.get(id=invoice.customer_id)
    document = await invoice_document(invoice)
    loc = language(invoice.locale)
    seller = document.seller.get("legal_name") or document.seller.get("name") or ""
    values = {
        "number": invoice.number,
        "seller": seller,
        "customer": customer.name,
        "total": format_money(invoice.amount_due_minor, invoice.currency, loc),
        "due": date_text(invoice.due_at, loc),
    }
    message = EmailMessage()
    message["Subject"] = label("email_subject", loc, **values)
    message["From"] = formataddr((seller, document.seller.get("email") or sender))
    message["To"] = formataddr((customer.name, customer.email or ""))
    message["Message-ID"] = make_msgid(domain="tally.local")
    message["Content-Language"] = loc
    message.set_content(label("email_body", loc, **values))
    message.add_attachment(
        await pdf_bytes(document),
        maintype="application",
        subtype="pdf",
        filename=f"{invoice.number}.pdf",
    )
    return message


@operation(transaction=False)
async def send_invoice(
    principal: Principal, public_id: str, smtp_url: str | None, *, sender: str = "billing@localhost"
) -> Invoice:
    principal.require(Permission.INVOICES_WRITE)
    invoice = await load_invoice(principal, public_id)
    if invoice.status in ("draft", "void"):
        raise InvoiceStatusError(f"a {invoice.status} invoice is not sent; finalize it first")
    customer = await Customer.get(id=invoice.customer_id)
    if not customer.email:
        raise ValidationError("the customer has no e-mail address", field="id", code="NO_EMAIL")
    if not smtp_url:
        raise ValidationError("set SMTP_URL to send e-mail", code="SMTP_NOT_CONFIGURED")
    message = await build_message(invoice, sender)
    try:
        await aiosmtplib.send(message, **smtp_options(smtp_url))  # type: ignore[arg-type]
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"the mail server refused the message: {exc}") from exc
    invoice.sent_at = clock.now()
    await Invoice.filter(id=invoice.id).update(sent_at=invoice.sent_at)
    feed.tell("invoice.sent", invoice, customer_id=invoice.customer_id)
    return invoice
