"""Dunning mail: written to the `mail_message` outbox in the transaction that
decides it (so it is neither lost nor sent twice: one dedupe key per reason),
and sent after commit by `send_pending`, in the customer's language.

The outbox has no attachment column: a message with files (the monthly KPI report's
PDF) keeps its whole MIME body, text and attachments, in `body`, written by
`mime_body`; `send_pending` sends it as it is, with the row's headers."""

from __future__ import annotations

import email
import email.policy
import logging
from collections.abc import Sequence
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

import aiosmtplib
from tortoise.expressions import Q

from db.payment_models import MailMessage
from domain import clock
from domain.invoicing.i18n import date_text, language
from domain.mailer import smtp_options
from domain.money import format_money

log = logging.getLogger("tally.mail")
MAX_ATTEMPTS = 5

TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "reminder": {
        "en": (
            "Invoice {number} is due on {due}",
            "Hello {customer},\n\nA reminder: invoice {number} for {amount} is due on {due}."
            "\n\n{seller}",
        ),
        "fr": (
            "La facture {number} arrive à échéance le {due}",
            "Bonjour {customer},\n\nPour rappel, la facture {number} de {amount} est à régler"
            " avant le {due}.\n\n{seller}",
        ),
        "de": (
            "Rechnung {number} ist am {due} fällig",
            "Hallo {customer},\n\nzur Erinnerung: Rechnung {number} über {amount} ist am {due}"
            " fällig.\n\n{seller}",
        ),
        "es": (
            "La factura {number} vence el {due}",
            "Hola {customer}:\n\nLe recordamos que la factura {number} de {amount} vence el"
            " {due}.\n\n{seller}",
        ),
        "ar": (
            "تستحق الفاتورة {number} في {due}",
            "مرحبًا {customer}،\n\nنذكّركم بأن الفاتورة {number} بمبلغ {amount} تستحق في {due}."
            "\n\n{seller}",
        ),
    },
    "payment_failed": {
        "en": (
            "Payment of invoice {number} failed",
            "Hello {customer},\n\nWe could not collect {amount} for invoice {number}: {reason}."
            "\n{next}\n\n{seller}",
        ),
        "fr": (
            "Échec du paiement de la facture {number}",
            "Bonjour {customer},\n\nLe paiement de {amount} pour la facture {number} a échoué :"
            " {reason}.\n{next}\n\n{seller}",
        ),
        "de": (
            "Zahlung für Rechnung {number} fehlgeschlagen",
            "Hallo {customer},\n\nwir konnten {amount} für Rechnung {number} nicht einziehen:"
            " {reason}.\n{next}\n\n{seller}",
        ),
        "es": (
            "El pago de la factura {number} ha fallado",
            "Hola {customer}:\n\nNo pudimos cobrar {amount} de la factura {number}: {reason}."
            "\n{next}\n\n{seller}",
        ),
        "ar": (
            "فشل دفع الفاتورة {number}",
            "مرحبًا {customer}،\n\nتعذّر تحصيل {amount} للفاتورة {number}: {reason}.\n{next}"
            "\n\n{seller}",
        ),
    },
}
NEXT: dict[str, tuple[str, str]] = {
    # (we retry on …, that was the last attempt)
    "en": ("We will try again on {date}.", "That was our last attempt."),
    "fr": ("Nous réessaierons le {date}.", "C'était notre dernière tentative."),
    "de": ("Wir versuchen es am {date} erneut.", "Das war unser letzter Versuch."),
    "es": ("Lo intentaremos de nuevo el {date}.", "Ese fue nuestro último intento."),
    "ar": ("سنحاول مرة أخرى في {date}.", "كانت تلك محاولتنا الأخيرة."),
}


def compose(kind: str, invoice: Any, customer: Any, seller: str, **extra: Any) -> tuple[str, str]:
    loc = language(customer.locale)
    subject, body = TEXTS[kind][loc]
    values = {
        "number": invoice.number,
        "customer": customer.name,
        "seller": seller,
        "amount": format_money(invoice.amount_due_minor, invoice.currency, loc),
        "due": date_text(invoice.due_at, loc),
        "reason": extra.get("reason") or "",
        "next": "",
    }
    if kind == "payment_failed":
        retry_at = extra.get("retry_at")
        values["next"] = (
            NEXT[loc][0].format(date=date_text(retry_at, loc)) if retry_at else NEXT[loc][1]
        )
    return subject.format(**values), body.format(**values)


async def queue(
    kind: str, invoice: Any, customer: Any, tenant: Any, dedupe_key: str, **extra: Any
) -> None:
    """Write one message to the outbox (nothing if the customer has no address, or
    if this reason was queued already)."""
    if not customer.email:
        return
    if await MailMessage.filter(dedupe_key=dedupe_key).exists():
        return
    subject, body = compose(kind, invoice, customer, tenant.legal_name or tenant.name, **extra)
    await MailMessage.create(
        tenant_id=tenant.id,
        kind=kind,
        to=formataddr((customer.name, customer.email)),
        subject=subject[:300],
        body=body,
        dedupe_key=dedupe_key[:160],
        created_at=clock.now(),
    )


# The first line of a body written by `mime_body`; no composed text starts with it.
MIME_MARK = "X-Tally-Outbox: mime\n"


def mime_body(text: str, attachments: Sequence[tuple[str, str, bytes]]) -> str:
    """A `body` for the outbox carrying `text` and (file name, content type, bytes)
    attachments (base64, so a PDF of 100 kB takes about 135 kB of text)."""
    part = EmailMessage()
    part.set_content(text)
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/", 1)
        part.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return MIME_MARK + part.as_string()


# An SMTP exchange times out after 20 s (domain/mailer.py); a claim this old belongs
# to a worker that died mid-send. Taking it again may send the mail twice if that
# worker had finished the exchange: mail is at least once, never lost.
CLAIM_LEASE = timedelta(minutes=10)


async def send_pending(smtp_url: str | None, sender: str, *, limit: int = 100) -> int:
    """Send what the outbox holds (after commit; several workers may run)."""
    if not smtp_url:
        return 0
    sent = 0
    now = clock.real_now()
    stale = Q(status="sending") & (Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE))
    for message in (
        await MailMessage.filter(Q(status="pending") | stale).order_by("id").limit(limit)
    ):
        # The claim names the state it saw, so of several workers exactly one wins,
        # a stale claim included. A stale claim on the last attempt used it up.
        seen = MailMessage.filter(id=message.id, status=message.status, attempts=message.attempts)
        if message.attempts >= MAX_ATTEMPTS:
            await seen.update(status="failed", error="the worker sending it stopped")
            continue
        claimed = await seen.update(
            status="sending", attempts=message.attempts + 1, claimed_at=clock.real_now()
        )
        if not claimed:
            continue  # another worker has it
        if await _send(message, smtp_url, sender):
            sent += 1
    return sent


async def _send(message: MailMessage, smtp_url: str, sender: str) -> bool:
    if message.body.startswith(MIME_MARK):
        mail = email.message_from_string(
            message.body[len(MIME_MARK) :], _class=EmailMessage, policy=email.policy.default
        )
    else:
        mail = EmailMessage()
        mail.set_content(message.body)
    mail["Subject"] = message.subject
    mail["From"] = sender
    mail["To"] = message.to
    mail["Message-ID"] = make_msgid(domain="tally.local")
    try:
        await aiosmtplib.send(mail, **smtp_options(smtp_url))  # type: ignore[arg-type]
    except (aiosmtplib.SMTPException, OSError) as exc:
        log.warning("mail %s not sent: %s", message.id, exc)
        status = "failed" if message.attempts + 1 >= MAX_ATTEMPTS else "pending"
        await MailMessage.filter(id=message.id).update(status=status, error=str(exc)[:300])
        return False
    await MailMessage.filter(id=message.id).update(status="sent", sent_at=clock.real_now())
    return True
