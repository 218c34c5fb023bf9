# ruff: noqa: RUF001  (Arabic letters here are not look-alikes of Latin ones)
"""Invoice wording in the five supported languages. Numbers, dates and money are
formatted by Babel; only the words live here."""

from __future__ import annotations

import copy
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal, parse_pattern

LANGUAGES = ("en", "fr", "de", "es", "ar")
RTL = frozenset({"ar"})

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "invoice": "Invoice",
        "credit_note": "Credit note",
        "number": "Number",
        "issued": "Issue date",
        "due": "Due date",
        "period": "Period",
        "bill_to": "Bill to",
        "from": "From",
        "vat_id": "VAT ID",
        "description": "Description",
        "quantity": "Qty",
        "unit_price": "Unit price",
        "amount": "Amount",
        "subtotal": "Subtotal",
        "discount": "Discount",
        "tax": "{name} {rate} %",
        "tax_on": "on {amount}",
        "total": "Total",
        "credit_applied": "Customer credit applied",
        "amount_paid": "Amount paid",
        "amount_credited": "Credited",
        "amount_due": "Amount due",
        "credited_invoice": "Credits invoice",
        "reason": "Reason",
        "reverse_charge": "Reverse charge: VAT to be accounted for by the recipient "
        "(Article 196, Council Directive 2006/112/EC).",
        "not_taxed": "Not subject to VAT in the seller's jurisdiction.",
        "proration_credit": "Unused time on {name}",
        "proration_charge": "Remaining time on {name}",
        "credit": "Credit: {name}",
        "usage_adjustment": "Usage adjustment: {name}",
        "usage_minimum": "Minimum commitment true-up",
        "usage_discount": "Volume discount {name}",
        "sla_credit": "SLA credit (uptime {name})",
        "tier_from": "{low} and above",
        "tier": "{range}: {units} × {price} + {fee} flat fee = {amount}",
        "rounding": "Rounding: {amount}",
        "billed_before": "Already invoiced: {amount}",
        "commitment": "Committed minimum: {amount}",
        "sla_share": "{percent} of the period's usage charges",
        "status_paid": "Paid",
        "status_void": "Void",
        "email_subject": "Invoice {number} from {seller}",
        "email_body": "Hello {customer},\n\nPlease find attached invoice {number} for {total}, "
        "due on {due}.\n\nThank you,\n{seller}",
        "email_subject_credit": "Credit note {number} from {seller}",
        "email_body_credit": "Hello {customer},\n\nPlease find attached credit note {number} "
        "for {total}.\n\nThank you,\n{seller}",
    },
    "fr": {
        "invoice": "Facture",
        "credit_note": "Avoir",
        "number": "Numéro",
        "issued": "Date d'émission",
        "due": "Date d'échéance",
        "period": "Période",
        "bill_to": "Facturé à",
        "from": "Émetteur",
        "vat_id": "N° TVA",
        "description": "Désignation",
        "quantity": "Qté",
        "unit_price": "Prix unitaire",
        "amount": "Montant",
        "subtotal": "Sous-total",
        "discount": "Remise",
        "tax": "{name} {rate} %",
        "tax_on": "sur {amount}",
        "total": "Total",
        "credit_applied": "Avoir client imputé",
        "amount_paid": "Montant réglé",
        "amount_credited": "Crédité",
        "amount_due": "Montant dû",
        "credited_invoice": "Avoir sur la facture",
        "reason": "Motif",
        "reverse_charge": "Autoliquidation : TVA due par le preneur "
        "(article 196 de la directive 2006/112/CE).",
        "not_taxed": "TVA non applicable dans la juridiction du vendeur.",
        "proration_credit": "Temps non utilisé sur {name}",
        "proration_charge": "Temps restant sur {name}",
        "credit": "Crédit : {name}",
        "usage_adjustment": "Ajustement de consommation : {name}",
        "usage_minimum": "Complément d'engagement minimum",
        "usage_discount": "Remise sur volume {name}",
        "sla_credit": "Avoir SLA (disponibilité {name})",
        "tier_from": "à partir de {low}",
        "tier": "{range} : {units} × {price} + {fee} de frais fixes = {amount}",
        "rounding": "Arrondi : {amount}",
        "billed_before": "Déjà facturé : {amount}",
        "commitment": "Engagement minimum : {amount}",
        "sla_share": "{percent} des frais de consommation de la période",
        "status_paid": "Payée",
        "status_void": "Annulée",
        "email_subject": "Facture {number} de {seller}",
        "email_body": "Bonjour {customer},\n\nVeuillez trouver ci-joint la facture {number} "
        "d'un montant de {total}, à régler avant le {due}.\n\nMerci,\n{seller}",
        "email_subject_credit": "Avoir {number} de {seller}",
        "email_body_credit": "Bonjour {customer},\n\nVeuillez trouver ci-joint l'avoir {number} "
        "d'un montant de {total}.\n\nMerci,\n{seller}",
    },
    "de": {
        "invoice": "Rechnung",
        "credit_note": "Gutschrift",
        "number": "Nummer",
        "issued": "Rechnungsdatum",
        "due": "Fällig am",
        "period": "Zeitraum",
        "bill_to": "Rechnung an",
        "from": "Von",
        "vat_id": "USt-IdNr.",
        "description": "Beschreibung",
        "quantity": "Menge",
        "unit_price": "Einzelpreis",
        "amount": "Betrag",
        "subtotal": "Zwischensumme",
        "discount": "Rabatt",
        "tax": "{name} {rate} %",
        "tax_on": "auf {amount}",
        "total": "Gesamt",
        "credit_applied": "Verrechnetes Kundenguthaben",
        "amount_paid": "Bezahlt",
        "amount_credited": "Gutgeschrieben",
        "amount_due": "Fälliger Betrag",
        "credited_invoice": "Gutschrift zur Rechnung",
        "reason": "Grund",
        "reverse_charge": "Steuerschuldnerschaft des Leistungsempfängers "
        "(Artikel 196 der Richtlinie 2006/112/EG).",
        "not_taxed": "Im Land des Verkäufers nicht umsatzsteuerpflichtig.",
        "proration_credit": "Nicht genutzte Zeit für {name}",
        "proration_charge": "Verbleibende Zeit für {name}",
        "credit": "Guthaben: {name}",
        "usage_adjustment": "Nutzungskorrektur: {name}",
        "usage_minimum": "Ausgleich auf den Mindestumsatz",
        "usage_discount": "Mengenrabatt {name}",
        "sla_credit": "SLA-Gutschrift (Verfügbarkeit {name})",
        "tier_from": "ab {low}",
        "tier": "{range}: {units} × {price} + {fee} Grundgebühr = {amount}",
        "rounding": "Rundung: {amount}",
        "billed_before": "Bereits berechnet: {amount}",
        "commitment": "Vereinbarter Mindestumsatz: {amount}",
        "sla_share": "{percent} der nutzungsabhängigen Entgelte des Zeitraums",
        "status_paid": "Bezahlt",
        "status_void": "Storniert",
        "email_subject": "Rechnung {number} von {seller}",
        "email_body": "Hallo {customer},\n\nim Anhang finden Sie die Rechnung {number} über "
        "{total}, fällig am {due}.\n\nVielen Dank,\n{seller}",
        "email_subject_credit": "Gutschrift {number} von {seller}",
        "email_body_credit": "Hallo {customer},\n\nim Anhang finden Sie die Gutschrift {number} "
        "über {total}.\n\nVielen Dank,\n{seller}",
    },
    "es": {
        "invoice": "Factura",
        "credit_note": "Nota de crédito",
        "number": "Número",
        "issued": "Fecha de emisión",
        "due": "Fecha de vencimiento",
        "period": "Periodo",
        "bill_to": "Facturar a",
        "from": "Emisor",
        "vat_id": "NIF-IVA",
        "description": "Descripción",
        "quantity": "Cant.",
        "unit_price": "Precio unitario",
        "amount": "Importe",
        "subtotal": "Subtotal",
        "discount": "Descuento",
        "tax": "{name} {rate} %",
        "tax_on": "sobre {amount}",
        "total": "Total",
        "credit_applied": "Saldo a favor aplicado",
        "amount_paid": "Importe pagado",
        "amount_credited": "Abonado",
        "amount_due": "Importe adeudado",
        "credited_invoice": "Abono de la factura",
        "reason": "Motivo",
        "reverse_charge": "Inversión del sujeto pasivo (artículo 196 de la Directiva 2006/112/CE).",
        "not_taxed": "No sujeto a IVA en la jurisdicción del vendedor.",
        "proration_credit": "Tiempo no utilizado de {name}",
        "proration_charge": "Tiempo restante de {name}",
        "credit": "Crédito: {name}",
        "usage_adjustment": "Ajuste de consumo: {name}",
        "usage_minimum": "Ajuste al compromiso mínimo",
        "usage_discount": "Descuento por volumen {name}",
        "sla_credit": "Crédito por SLA (disponibilidad {name})",
        "tier_from": "desde {low}",
        "tier": "{range}: {units} × {price} + {fee} de cargo fijo = {amount}",
        "rounding": "Redondeo: {amount}",
        "billed_before": "Ya facturado: {amount}",
        "commitment": "Compromiso mínimo: {amount}",
        "sla_share": "{percent} de los cargos por consumo del periodo",
        "status_paid": "Pagada",
        "status_void": "Anulada",
        "email_subject": "Factura {number} de {seller}",
        "email_body": "Hola {customer}:\n\nAdjuntamos la factura {number} por {total}, "
        "con vencimiento el {due}.\n\nGracias,\n{seller}",
        "email_subject_credit": "Nota de crédito {number} de {seller}",
        "email_body_credit": "Hola {customer}:\n\nAdjuntamos la nota de crédito {number} por "
        "{total}.\n\nGracias,\n{seller}",
    },
    "ar": {
        "invoice": "فاتورة",
        "credit_note": "إشعار دائن",
        "number": "الرقم",
        "issued": "تاريخ الإصدار",
        "due": "تاريخ الاستحقاق",
        "period": "الفترة",
        "bill_to": "فاتورة إلى",
        "from": "من",
        "vat_id": "الرقم الضريبي",
        "description": "الوصف",
        "quantity": "الكمية",
        "unit_price": "سعر الوحدة",
        "amount": "المبلغ",
        "subtotal": "المجموع الفرعي",
        "discount": "الخصم",
        "tax": "{name} {rate} %",
        "tax_on": "على {amount}",
        "total": "الإجمالي",
        "credit_applied": "رصيد العميل المستخدم",
        "amount_paid": "المبلغ المدفوع",
        "amount_credited": "المبلغ المعاد",
        "amount_due": "المبلغ المستحق",
        "credited_invoice": "إشعار دائن للفاتورة",
        "reason": "السبب",
        "reverse_charge": "التحويل العكسي: الضريبة مستحقة على المتلقي "
        "(المادة 196 من التوجيه 2006/112/EC).",
        "not_taxed": "غير خاضع لضريبة القيمة المضافة في بلد البائع.",
        "proration_credit": "الوقت غير المستخدم من {name}",
        "proration_charge": "الوقت المتبقي من {name}",
        "credit": "رصيد: {name}",
        "usage_adjustment": "تسوية الاستهلاك: {name}",
        "usage_minimum": "تسوية الحد الأدنى للالتزام",
        "usage_discount": "خصم الكمية {name}",
        "sla_credit": "رصيد اتفاقية مستوى الخدمة (نسبة التوفر {name})",
        "tier_from": "{low} فأكثر",
        "tier": "{range}: {units} × {price} + {fee} رسوم ثابتة = {amount}",
        "rounding": "التقريب: {amount}",
        "billed_before": "سبقت فوترته: {amount}",
        "commitment": "الحد الأدنى المتفق عليه: {amount}",
        "sla_share": "{percent} من رسوم الاستهلاك للفترة",
        "status_paid": "مدفوعة",
        "status_void": "ملغاة",
        "email_subject": "الفاتورة {number} من {seller}",
        "email_body": "مرحبا {customer}،\n\nتجدون مرفقا الفاتورة {number} بمبلغ {total}، "
        "تستحق في {due}.\n\nشكرا لكم،\n{seller}",
        "email_subject_credit": "الإشعار الدائن {number} من {seller}",
        "email_body_credit": "مرحبا {customer}،\n\nتجدون مرفقا الإشعار الدائن {number} بمبلغ "
        "{total}.\n\nشكرا لكم،\n{seller}",
    },
}

REASONS: dict[str, dict[str, str]] = {
    "en": {
        "duplicate": "Duplicate",
        "fraudulent": "Fraudulent",
        "order_change": "Order change",
        "product_unsatisfactory": "Product unsatisfactory",
        "other": "Other",
        "requested_by_customer": "Requested by the customer",
        "dispute_lost": "Dispute lost",
    },
    "fr": {
        "duplicate": "Doublon",
        "fraudulent": "Fraude",
        "order_change": "Modification de commande",
        "product_unsatisfactory": "Produit non satisfaisant",
        "other": "Autre",
        "requested_by_customer": "À la demande du client",
        "dispute_lost": "Litige perdu",
    },
    "de": {
        "duplicate": "Duplikat",
        "fraudulent": "Betrug",
        "order_change": "Bestelländerung",
        "product_unsatisfactory": "Produkt nicht zufriedenstellend",
        "other": "Sonstiges",
        "requested_by_customer": "Auf Wunsch des Kunden",
        "dispute_lost": "Zahlungsstreit verloren",
    },
    "es": {
        "duplicate": "Duplicado",
        "fraudulent": "Fraude",
        "order_change": "Cambio de pedido",
        "product_unsatisfactory": "Producto insatisfactorio",
        "other": "Otro",
        "requested_by_customer": "A petición del cliente",
        "dispute_lost": "Disputa perdida",
    },
    "ar": {
        "duplicate": "مكرر",
        "fraudulent": "احتيال",
        "order_change": "تغيير الطلب",
        "product_unsatisfactory": "منتج غير مرض",
        "other": "أخرى",
        "requested_by_customer": "بناء على طلب العميل",
        "dispute_lost": "نزاع خاسر",
    },
}


def language(locale: str | None) -> str:
    """The supported language for a locale tag ("fr_CA" → "fr"), English otherwise."""
    base = (locale or "en").replace("-", "_").split("_")[0].lower()
    return base if base in LANGUAGES else "en"


def label(key: str, locale: str | None, **values: Any) -> str:
    text = LABELS[language(locale)][key]
    return text.format(**values) if values else text


def line_label(
    kind: str, name: str, locale: str | None, details: dict[str, Any] | None = None
) -> str:
    """A line's description as shown: prorations, credits and usage terms are worded
    per language. With the line's `details`, a usage term's figure (the discount
    percent, the uptime) is written in the locale's digits; without, as stored."""
    details = details or {}
    if kind in ("proration_credit", "proration_charge", "credit"):
        return label(kind, locale, name=name)
    if kind == "usage_adjustment":  # a past period's charge, or one of its terms
        term = details.get("term")
        inner = line_label(term, name, locale, details) if term in USAGE_TERMS else name
        return label(kind, locale, name=inner)
    if kind == "usage_minimum":
        return label(kind, locale)
    if kind == "usage_discount":
        return label(kind, locale, name=percent_text(details.get("percent"), locale) or name)
    if kind == "sla_credit":
        return label(kind, locale, name=percent_text(details.get("uptime"), locale) or name)
    return name


USAGE_TERMS = frozenset({"usage_minimum", "usage_discount", "sla_credit"})


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _percent(number: Decimal, places: Decimal, locale: str | None) -> str:
    """`number` in the locale's percent pattern with exactly the decimals of `places`."""
    loc = Locale.parse(language(locale))
    pattern = copy.copy(parse_pattern(loc.percent_formats[None]))  # cached: copy to change
    exp = places.as_tuple().exponent
    digits = max(0, -exp) if isinstance(exp, int) else 0
    pattern.frac_prec = (digits, digits)
    return pattern.apply(number, loc)


def number_text(value: Any, locale: str | None) -> str:
    """An exact quantity in the locale's digits, every decimal kept, never rounded
    ("12350.25" → "12 350,25" in French; trailing zeros dropped)."""
    number = _decimal(value)
    if number is None:
        return str(value)
    return format_decimal(number, locale=language(locale), decimal_quantization=False)


def percent_text(value: Any, locale: str | None) -> str | None:
    """A percent figure as the locale writes it, with the decimals it was given
    ("98.750" → "98.750%" in English, "98,750 %" in French); None if not a number."""
    number = _decimal(value)
    return None if number is None else _percent(number.scaleb(-2), number, locale)


def reason_label(reason: str, locale: str | None) -> str:
    return REASONS[language(locale)].get(reason, reason)


def date_text(at: datetime | None, locale: str | None) -> str:
    if at is None:
        return ""
    return format_date(at.date(), format="medium", locale=language(locale))
