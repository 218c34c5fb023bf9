"""The panels' sign-in page (api/static/web/sign-in.html) in the visitor's language:
English, French or Arabic (right to left), from Accept-Language."""

from __future__ import annotations

from domain.tenancy.web_sessions import Panel

LOCALES = ("en", "fr", "ar")
RTL = {"ar"}

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "portal.heading": "Billing portal",
        "portal.hint": "Paste your customer token (tly_…), or open the sign-in link you were sent.",
        "portal.label": "Customer token",
        "admin.heading": "Tally admin console",
        "admin.hint": "Sign in with an admin key, or an analyst key for read-only access.",
        "admin.label": "API key",
        "title": "Sign in · {heading}",
        "button": "Sign in",
        "refused.portal": "This key cannot open the portal: use a customer token.",
        "refused.admin": "This key cannot open the console: use an admin or analyst key.",
        "link": "This link is invalid, expired or already used: ask for a new one.",
        "cross_site": "Cross-site sign-in refused.",
        "link.hint": "This one-time link opens your billing portal (it works once, for 15 minutes).",
        "link.button": "Open my billing portal",
    },
    "fr": {
        "portal.heading": "Portail de facturation",
        "portal.hint": "Collez votre jeton client (tly_…) ou ouvrez le lien de connexion reçu.",
        "portal.label": "Jeton client",
        "admin.heading": "Console d’administration Tally",  # noqa: RUF001
        "admin.hint": "Connectez-vous avec une clé admin, ou une clé analyste en lecture seule.",
        "admin.label": "Clé d'API",
        "title": "Connexion · {heading}",
        "button": "Se connecter",
        "refused.portal": "Cette clé n'ouvre pas le portail : utilisez un jeton client.",
        "refused.admin": "Cette clé n'ouvre pas la console : utilisez une clé admin ou analyste.",
        "link": "Ce lien est invalide, expiré ou déjà utilisé : demandez-en un nouveau.",
        "cross_site": "Connexion depuis un autre site refusée.",
        "link.hint": "Ce lien à usage unique ouvre votre portail (une fois, pendant 15 minutes).",
        "link.button": "Ouvrir mon portail de facturation",
    },
    "ar": {
        "portal.heading": "بوابة الفوترة",
        "portal.hint": "الصق رمز العميل (tly_…) أو افتح رابط الدخول الذي وصلك.",
        "portal.label": "رمز العميل",
        "admin.heading": "لوحة إدارة Tally",
        "admin.hint": "سجّل الدخول بمفتاح مسؤول، أو بمفتاح محلل للقراءة فقط.",
        "admin.label": "مفتاح الواجهة البرمجية",
        "title": "تسجيل الدخول · {heading}",
        "button": "تسجيل الدخول",
        "refused.portal": "هذا المفتاح لا يفتح البوابة: استخدم رمز عميل.",
        "refused.admin": "هذا المفتاح لا يفتح اللوحة: استخدم مفتاح مسؤول أو محلل.",
        "link": "هذا الرابط غير صالح أو منتهي الصلاحية أو مستخدم: اطلب رابطًا جديدًا.",
        "cross_site": "رُفض تسجيل الدخول من موقع آخر.",
        "link.hint": "يفتح هذا الرابط بوابة الفوترة الخاصة بك (مرة واحدة، خلال 15 دقيقة).",
        "link.button": "افتح بوابة الفوترة",
    },
}


def link_values(locale: str) -> dict[str, str]:
    """The portal link's page: one button that redeems it (a POST)."""
    text = _TEXT[locale]
    return {
        "lang": locale,
        "dir": "rtl" if locale in RTL else "ltr",
        "heading": text["portal.heading"],
        "hint": text["link.hint"],
        "button": text["link.button"],
    }


def values(panel: Panel, locale: str, error: str | None) -> dict[str, str]:
    """The template's values; `error` is a key of the strings above, or None."""
    text = _TEXT[locale]
    heading = text[f"{panel.value}.heading"]
    return {
        "lang": locale,
        "dir": "rtl" if locale in RTL else "ltr",
        "title": text["title"].format(heading=heading),
        "heading": heading,
        "hint": text[f"{panel.value}.hint"],
        "label": text[f"{panel.value}.label"],
        "action": f"/{panel.value}/sign-in",
        "button": text["button"],
        "error": text[error] if error else "",
    }
