"""PDFs in five languages (text extracted with pypdf and checked) and e-mail over a
real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import io
import unicodedata
from typing import Any

import pytest
from pypdf import PdfReader

from db.invoice_models import Invoice
from domain.errors import BillingError
from domain.invoicing import credit_notes, mail, service
from domain.invoicing.documents import credit_note_document, invoice_document
from domain.invoicing.i18n import LABELS
from domain.invoicing.pdf import render_html, render_pdf
from tests.domain.billing.conftest import World

ITEM = {
    "description": "Onboarding",
    "quantity": 2,
    "unit_price": {"currency": "EUR", "amount": "1234.50"},
}


def pdf_text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    # Arabic comes out as presentation forms in visual order: NFKC gives the letters back.
    return unicodedata.normalize("NFKC", text)


def has_words(text: str, words: str) -> bool:
    flat = " ".join(text.split())
    return (
        words in flat
        or words[::-1] in flat
        or all(w in flat or w[::-1] in flat for w in words.split())
    )


EXPECTED = {
    # locale: (title, total label, amount as Babel writes it, a date as Babel writes it)
    "en": ("Invoice", "Amount due", "€2,469.00", "Apr 1, 2026"),
    "fr": ("Facture", "Montant dû", "2\u202f469,00\u00a0€", "1 avr. 2026"),
    "de": ("Rechnung", "Fälliger Betrag", "2.469,00\u00a0€", "01.04.2026"),
    "es": ("Factura", "Importe adeudado", "2.469,00\u00a0€", "1 abr 2026"),
    "ar": ("فاتورة", "المبلغ المستحق", "2,469.00", "2026"),
}


@pytest.mark.parametrize("locale", sorted(EXPECTED))
async def test_invoice_pdf_in_each_language(world: World, locale: str) -> None:
    world.tenant.vat_id, world.tenant.legal_name = "FR40303265045", "Tally Demo SAS"
    await world.tenant.save()
    customer = await world.customer_on_clock(
        name="Müller GmbH", country="DE", tax_id="DE129273398", locale=locale
    )
    invoice = await service.create_invoice(
        world.admin, {"customer_id": customer.public_id, "items": [ITEM], "finalize": True}
    )
    document = await invoice_document(invoice)
    html = render_html(document)
    title, due_label, amount, day = EXPECTED[locale]
    assert title in html and due_label in html and amount in html
    assert ("dir='rtl'" in html) is (locale == "ar")
    text = pdf_text(render_pdf(html))
    normalised_amount = unicodedata.normalize("NFKC", amount)
    for needle in (invoice.number, "Tally Demo SAS", "FR40303265045", "DE129273398", "Müller GmbH"):
        assert needle in text, (locale, needle)
    assert has_words(text, unicodedata.normalize("NFKC", title)), text
    assert has_words(text, unicodedata.normalize("NFKC", due_label)), text
    assert normalised_amount.replace("\u00a0", " ") in text.replace("\u00a0", " ") or (
        normalised_amount.replace("\u202f", " ").replace("\u00a0", " ") in " ".join(text.split())
    ), (locale, text)
    assert day in text
    mention = unicodedata.normalize("NFKC", LABELS[locale]["reverse_charge"].split()[0]).rstrip(":")
    assert has_words(text, mention), (locale, mention)


async def test_credit_note_pdf(world: World) -> None:
    invoice = await service.create_invoice(
        world.admin, {"customer_id": world.customer.public_id, "items": [ITEM], "finalize": True}
    )
    note = await credit_notes.create_credit_note(
        world.admin, {"invoice_id": invoice.public_id, "reason": "duplicate"}
    )
    text = pdf_text(render_pdf(render_html(await credit_note_document(note))))
    assert "Credit note" in text and note.number in text and invoice.number in text
    assert "Duplicate" in text and "€2,962.80" in text


async def test_send_invoice_in_the_customers_language(world: World, smtp: Any) -> None:
    url, inbox = smtp
    customer = await world.customer_on_clock(name="Jeanne", email="jeanne@example.fr", locale="fr")
    invoice = await service.create_invoice(
        world.admin, {"customer_id": customer.public_id, "items": [ITEM], "finalize": True}
    )
    sent = await mail.send_invoice(world.admin, invoice.public_id, url)
    assert sent.sent_at is not None and (await Invoice.get(id=invoice.id)).sent_at is not None
    await asyncio.sleep(0)
    (message,) = inbox.messages
    assert message["To"] == "Jeanne <jeanne@example.fr>"
    assert message["Subject"] == f"Facture {invoice.number} de {world.tenant.name}"
    body, attachment = [part for part in message.walk() if not part.is_multipart()]
    assert "Veuillez trouver ci-joint la facture" in body.get_payload(decode=True).decode()
    assert attachment.get_filename() == f"{invoice.number}.pdf"
    assert invoice.number in pdf_text(attachment.get_payload(decode=True))


async def test_sending_is_refused_without_what_it_needs(world: World, smtp: Any) -> None:
    url, inbox = smtp
    draft = await service.create_invoice(
        world.admin, {"customer_id": world.customer.public_id, "items": [ITEM]}
    )
    nobody = await world.customer_on_clock(name="No mail")
    final = await service.create_invoice(
        world.admin, {"customer_id": nobody.public_id, "items": [ITEM], "finalize": True}
    )
    for call, code in (
        (mail.send_invoice(world.admin, draft.public_id, url), "INVALID_INVOICE_STATUS"),
        (mail.send_invoice(world.admin, final.public_id, url), "NO_EMAIL"),
        (mail.send_invoice(world.admin, final.public_id, None), "NO_EMAIL"),
        (
            mail.send_invoice(world.admin, draft.public_id, "smtp://127.0.0.1:1"),
            "INVALID_INVOICE_STATUS",
        ),
    ):
        with pytest.raises(BillingError) as caught:
            await call
        assert caught.value.code == code
    opened = await service.finalize_invoice(world.admin, draft.public_id)
    with pytest.raises(BillingError) as down:
        await mail.send_invoice(world.admin, opened.public_id, "smtp://127.0.0.1:1")
    assert down.value.code == "EMAIL_NOT_DELIVERED"
    assert (await Invoice.get(id=opened.id)).sent_at is None
    assert inbox.messages == []
