"""Royalty statement wording in the five languages a payee may read (en, fr, de,
es, ar). Only the words live here: numbers, dates and money are formatted by Babel
(`domain.money.format_money`, `domain.invoicing.i18n`), in the same language."""

from __future__ import annotations

from datetime import date
from typing import Any

from babel.dates import format_skeleton

from domain.invoicing.i18n import language, number_text

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Royalty statement",
        "period": "Period",
        "reference": "Statement",
        "status": "Status",
        "payee": "Payee",
        "issuer": "Issued by",
        "email": "Email",
        "tax_id": "Tax ID",
        "agent": "Paid through {name}",
        "amounts_in": "Amounts in {currency} unless stated otherwise.",
        "summary": "Summary",
        "opening": "Opening balance",
        "earnings": "Earnings",
        "returns": "Returns",
        "reserve_withheld": "Reserve withheld against returns",
        "reserve_released": "Reserve released",
        "recouped": "Advance recouped",
        "balance": "Balance",
        "payable": "Amount payable",
        "carried": "Carried forward",
        "advance_remaining": "Advance still unrecouped",
        "earnings_by_work": "Earnings by work",
        "details": "Earnings in detail",
        "returns_by_work": "Returns by work",
        "work": "Work",
        "type": "Type",
        "tier": "Tier",
        "tier_n": "Tier {n}",
        "rate": "Rate",
        "units": "Units",
        "basis": "Basis",
        "earned": "Earned",
        "amount": "Amount",
        "adjustments": "Adjustments",
        "reason": "Reason",
        "conversions": "Currency conversions",
        "converted": "Converted",
        "exchange_rate": "Rate",
        "outcome_PAYABLE": "{amount} is payable to you.",
        "outcome_CARRIED": "Below the payout threshold: the balance is carried forward "
        "to the next period.",
    },
    "fr": {
        "title": "Relevé de droits",
        "period": "Période",
        "reference": "Relevé",
        "status": "Statut",
        "payee": "Bénéficiaire",
        "issuer": "Émis par",
        "email": "E-mail",
        "tax_id": "Identifiant fiscal",
        "agent": "Payé par l'intermédiaire de {name}",
        "amounts_in": "Montants en {currency} sauf mention contraire.",
        "summary": "Récapitulatif",
        "opening": "Solde d'ouverture",
        "earnings": "Droits acquis",
        "returns": "Retours",
        "reserve_withheld": "Provision pour retours retenue",
        "reserve_released": "Provision libérée",
        "recouped": "Avance récupérée",
        "balance": "Solde",
        "payable": "Montant à payer",
        "carried": "Solde reporté",
        "advance_remaining": "Avance restant à récupérer",
        "earnings_by_work": "Droits par œuvre",
        "details": "Détail des droits",
        "returns_by_work": "Retours par œuvre",
        "work": "Œuvre",
        "type": "Type",
        "tier": "Palier",
        "tier_n": "Palier {n}",
        "rate": "Taux",
        "units": "Unités",
        "basis": "Assiette",
        "earned": "Acquis",
        "amount": "Montant",
        "adjustments": "Ajustements",
        "reason": "Motif",
        "conversions": "Conversions de devises",
        "converted": "Converti",
        "exchange_rate": "Taux",
        "outcome_PAYABLE": "{amount} vous est dû.",
        "outcome_CARRIED": "En dessous du seuil de paiement : le solde est reporté sur "
        "la période suivante.",
    },
    "de": {
        "title": "Tantiemenabrechnung",
        "period": "Zeitraum",
        "reference": "Abrechnung",
        "status": "Status",
        "payee": "Empfänger",
        "issuer": "Aussteller",
        "email": "E-Mail",
        "tax_id": "Steuernummer",
        "agent": "Zahlung über {name}",
        "amounts_in": "Beträge in {currency}, sofern nicht anders angegeben.",
        "summary": "Übersicht",
        "opening": "Anfangssaldo",
        "earnings": "Tantiemen",
        "returns": "Rückgaben",
        "reserve_withheld": "Einbehalt für Rückgaben",
        "reserve_released": "Freigegebener Einbehalt",
        "recouped": "Verrechneter Vorschuss",
        "balance": "Saldo",
        "payable": "Auszahlungsbetrag",
        "carried": "Saldovortrag",
        "advance_remaining": "Noch nicht verrechneter Vorschuss",
        "earnings_by_work": "Tantiemen nach Werk",
        "details": "Tantiemen im Einzelnen",
        "returns_by_work": "Rückgaben nach Werk",
        "work": "Werk",
        "type": "Art",
        "tier": "Staffel",
        "tier_n": "Staffel {n}",
        "rate": "Satz",
        "units": "Einheiten",
        "basis": "Grundlage",
        "earned": "Verdient",
        "amount": "Betrag",
        "adjustments": "Korrekturen",
        "reason": "Grund",
        "conversions": "Währungsumrechnungen",
        "converted": "Umgerechnet",
        "exchange_rate": "Kurs",
        "outcome_PAYABLE": "{amount} werden an Sie ausgezahlt.",
        "outcome_CARRIED": "Unter der Auszahlungsschwelle: Der Saldo wird auf den "
        "nächsten Zeitraum vorgetragen.",
    },
    "es": {
        "title": "Liquidación de derechos",
        "period": "Periodo",
        "reference": "Liquidación",
        "status": "Estado",
        "payee": "Beneficiario",
        "issuer": "Emitida por",
        "email": "Correo electrónico",
        "tax_id": "NIF",
        "agent": "Pagado a través de {name}",
        "amounts_in": "Importes en {currency} salvo indicación contraria.",
        "summary": "Resumen",
        "opening": "Saldo inicial",
        "earnings": "Derechos devengados",
        "returns": "Devoluciones",
        "reserve_withheld": "Reserva retenida para devoluciones",
        "reserve_released": "Reserva liberada",
        "recouped": "Anticipo recuperado",
        "balance": "Saldo",
        "payable": "Importe a pagar",
        "carried": "Saldo trasladado",
        "advance_remaining": "Anticipo pendiente de recuperar",
        "earnings_by_work": "Derechos por obra",
        "details": "Detalle de los derechos",
        "returns_by_work": "Devoluciones por obra",
        "work": "Obra",
        "type": "Tipo",
        "tier": "Tramo",
        "tier_n": "Tramo {n}",
        "rate": "Porcentaje",
        "units": "Unidades",
        "basis": "Base",
        "earned": "Devengado",
        "amount": "Importe",
        "adjustments": "Ajustes",
        "reason": "Motivo",
        "conversions": "Conversiones de divisa",
        "converted": "Convertido",
        "exchange_rate": "Tipo de cambio",
        "outcome_PAYABLE": "Se le abonará {amount}.",
        "outcome_CARRIED": "Por debajo del umbral de pago: el saldo se traslada al "
        "periodo siguiente.",
    },
    "ar": {
        "title": "كشف حقوق المؤلف",
        "period": "الفترة",
        "reference": "الكشف",
        "status": "الحالة",
        "payee": "المستفيد",
        "issuer": "الجهة المصدرة",
        "email": "البريد الإلكتروني",
        "tax_id": "الرقم الضريبي",
        "agent": "يُدفع عن طريق {name}",
        "amounts_in": "المبالغ بعملة {currency} ما لم يُذكر خلاف ذلك.",
        "summary": "الملخص",
        "opening": "الرصيد الافتتاحي",
        "earnings": "العائدات",
        "returns": "المرتجعات",
        "reserve_withheld": "احتياطي المرتجعات المحتجز",
        "reserve_released": "الاحتياطي المُفرج عنه",
        "recouped": "السلفة المستردة",
        "balance": "الرصيد",
        "payable": "المبلغ المستحق الدفع",
        "carried": "الرصيد المرحّل",
        "advance_remaining": "السلفة غير المستردة",
        "earnings_by_work": "العائدات حسب العمل",
        "details": "تفاصيل العائدات",
        "returns_by_work": "المرتجعات حسب العمل",
        "work": "العمل",
        "type": "النوع",
        "tier": "الشريحة",
        "tier_n": "الشريحة {n}",
        "rate": "النسبة",
        "units": "الوحدات",
        "basis": "الأساس",
        "earned": "المكتسب",
        "amount": "المبلغ",
        "adjustments": "التعديلات",
        "reason": "السبب",
        "conversions": "تحويلات العملات",
        "converted": "المبلغ المحوّل",
        "exchange_rate": "سعر الصرف",
        "outcome_PAYABLE": "يُدفع لك مبلغ {amount}.",
        "outcome_CARRIED": "الرصيد أقل من حد الدفع: يُرحّل إلى الفترة التالية.",
    },
}

# Transaction types as the contract and the statement's lines name them.
KINDS: dict[str, dict[str, str]] = {
    "en": {
        "SALE": "Sales",
        "SUBSCRIPTION_READ": "Subscription reads",
        "USAGE": "Usage",
        "LICENSE": "Licence",
        "ADJUSTMENT": "Adjustment",
    },
    "fr": {
        "SALE": "Ventes",
        "SUBSCRIPTION_READ": "Lectures par abonnement",
        "USAGE": "Utilisation",
        "LICENSE": "Licence",
        "ADJUSTMENT": "Ajustement",
    },
    "de": {
        "SALE": "Verkäufe",
        "SUBSCRIPTION_READ": "Lesevorgänge im Abonnement",
        "USAGE": "Nutzung",
        "LICENSE": "Lizenz",
        "ADJUSTMENT": "Korrektur",
    },
    "es": {
        "SALE": "Ventas",
        "SUBSCRIPTION_READ": "Lecturas por suscripción",
        "USAGE": "Uso",
        "LICENSE": "Licencia",
        "ADJUSTMENT": "Ajuste",
    },
    "ar": {
        "SALE": "المبيعات",
        "SUBSCRIPTION_READ": "القراءات بالاشتراك",
        "USAGE": "الاستخدام",
        "LICENSE": "الترخيص",
        "ADJUSTMENT": "تعديل",
    },
}

# A statement's status (the row's), and what the period's figures came to.
STATUSES: dict[str, dict[str, str]] = {
    "en": {"draft": "Draft", "approved": "Approved", "paid": "Paid", "carried": "Carried forward"},
    "fr": {"draft": "Brouillon", "approved": "Approuvé", "paid": "Payé", "carried": "Reporté"},
    "de": {
        "draft": "Entwurf",
        "approved": "Freigegeben",
        "paid": "Bezahlt",
        "carried": "Vorgetragen",
    },
    "es": {"draft": "Borrador", "approved": "Aprobada", "paid": "Pagada", "carried": "Trasladada"},
    "ar": {"draft": "مسودة", "approved": "معتمد", "paid": "مدفوع", "carried": "مرحّل"},
}


def label(key: str, lang: str | None, **values: Any) -> str:
    text = LABELS[language(lang)][key]
    return text.format(**values) if values else text


def kind_label(kind: str, lang: str | None) -> str:
    return KINDS[language(lang)].get(kind, kind)


def status_label(status: str, lang: str | None) -> str:
    return STATUSES[language(lang)].get(status, status)


def tier_label(tier: int | None, lang: str | None) -> str:
    """Escalator tiers are stored 0-based; people count them from 1."""
    if tier is None:
        return "—"
    return label("tier_n", lang, n=number_text(tier + 1, lang))


def period_text(period: str, lang: str | None) -> str:
    """ "2026-11" as the month is named in the language ("novembre 2026")."""
    try:
        year, month = (int(part) for part in period.split("-"))
        return format_skeleton("yMMMM", date(year, month, 1), locale=language(lang))
    except (ValueError, TypeError):
        return period
