"""EU VAT numbers: format and check digits per member state (python-stdnum,
offline), and whether a number belongs to a customer's country.

Reverse charge (0 % VAT, Art. 196 VAT Directive) moves the tax to the buyer, so
it may only rest on a VAT number that is well formed for the buyer's own member
state: "DE12", "hello" or a French number on a German customer must not turn VAT
off. A number's existence is a VIES question this module does not ask (offline).
"""

from __future__ import annotations

import enum
import re

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError

# VAT prefixes that are not the ISO country code: Greece uses EL, and Northern
# Ireland's traders (XI) are in the United Kingdom.
_PREFIX_COUNTRY = {"EL": "GR", "XI": "GB"}
EU_PREFIXES = frozenset({cc.upper() for cc in eu_vat.MEMBER_STATES if cc != "gr"} | {"EL"})
_SEPARATORS = re.compile(r"[\s.\-]")


class TaxIdStatus(enum.StrEnum):
    NONE = "none"  # no tax id
    VALID = "valid"  # an EU VAT number with good check digits, of the customer's country
    INVALID = "invalid"  # an EU VAT number that fails the checks or names another country
    NOT_CHECKED = "not_checked"  # a non-EU tax id: stored as given, never reverse-charged


def normalise(value: str) -> str:
    """Upper case without spaces, dots or dashes; Greece's GR prefix becomes EL."""
    number = _SEPARATORS.sub("", value).upper()
    return "EL" + number[2:] if number.startswith("GR") else number


def prefix_country(number: str) -> str:
    prefix = number[:2]
    return _PREFIX_COUNTRY.get(prefix, prefix)


def is_eu(number: str) -> bool:
    return number[:2] in EU_PREFIXES


def problem(number: str) -> str | None:
    """Why an EU VAT number (normalised) is not well formed; None when it is."""
    try:
        eu_vat.validate(number)
    except StdnumError as exc:
        return str(exc.message).rstrip(".").lower()
    return None


def status(tax_id: str | None, country: str | None) -> TaxIdStatus:
    if not tax_id:
        return TaxIdStatus.NONE
    number = normalise(tax_id)
    if not is_eu(number):
        return TaxIdStatus.NOT_CHECKED
    if problem(number) is not None or (country and prefix_country(number) != country):
        return TaxIdStatus.INVALID
    return TaxIdStatus.VALID


def valid_for(tax_id: str | None, country: str | None) -> bool:
    """A VAT number that can carry a reverse charge for a buyer in `country`."""
    return bool(country) and status(tax_id, country) is TaxIdStatus.VALID
