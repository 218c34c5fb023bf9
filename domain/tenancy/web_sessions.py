"""Web panel sessions (issue 18): the customer portal and the admin console.

A session is an API key of its own, issued at sign-in with the role (and customer)
of the key or link that signed in, expiring after SESSION_HOURS, and recorded as a
session of the key that signed in (revoking that key ends it). The browser holds it
only in an HttpOnly cookie, so a session can do exactly what its key can, through
the same authentication, permissions and revocation as any key. Its CSRF token is a
keyed digest of it: nothing more is stored.

Customer portal links are single-use secrets valid LINK_MINUTES; redeeming one is a
single conditional UPDATE, so two clicks on one link sign in at most once.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from db.models import ApiKey, Customer
from db.web_models import PortalLink
from domain import clock
from domain.errors import AuthenticationError, NotFoundError, ValidationError
from domain.ids import check_id
from domain.secrets_box import box
from domain.tenancy.access import Permission, Principal, Role
from domain.tenancy.api_keys import authenticate, forget_keys, issue_key
from domain.unit_of_work import operation

SESSION_HOURS = 12
LINK_MINUTES = 15
LINK_PREFIX = "tpl_"


class Panel(enum.StrEnum):
    PORTAL = "portal"
    ADMIN = "admin"


ROLES = {Panel.PORTAL: {Role.CUSTOMER}, Panel.ADMIN: {Role.ADMIN, Role.ANALYST}}


@dataclass(frozen=True, slots=True)
class WebSession:
    token: str  # the session's key: the cookie's value, never shown to scripts
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedPortalLink:
    url: str
    expires_at: datetime


def csrf_token(session_token: str) -> str:
    return box().mac(session_token, context="web-csrf")


def csrf_matches(session_token: str, presented: object) -> bool:
    if not isinstance(presented, str) or not presented:
        return False
    return hmac.compare_digest(csrf_token(session_token), presented)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def _open(
    *, tenant_id: int, role: Role, customer_id: int | None, parent: ApiKey
) -> WebSession:
    now = clock.now()
    expires_at = now + timedelta(hours=SESSION_HOURS)
    if parent.expires_at is not None:
        expires_at = min(expires_at, parent.expires_at)
    issued = await issue_key(
        tenant_id=tenant_id,
        role=role,
        name=f"web session ({parent.prefix})",
        customer_id=customer_id,
        expires_at=expires_at,
        session_of_id=parent.id,
    )
    return WebSession(issued.secret, expires_at)


@operation
async def sign_in(token: str, panel: Panel) -> WebSession:
    """A session for the holder of an API key: a customer token for the portal, an
    admin or analyst key for the console. Every refusal reads the same."""
    refused = AuthenticationError(f"this key cannot open the {panel.value}")
    try:
        auth = await authenticate(token.strip())
    except AuthenticationError:
        raise refused from None
    key = auth.api_key
    if auth.principal.role not in ROLES[panel] or key.session_of_id is not None:
        raise refused
    return await _open(
        tenant_id=key.tenant_id, role=auth.principal.role, customer_id=key.customer_id, parent=key
    )


@operation
async def create_portal_link(
    principal: Principal, customer_public_id: str, base_url: str
) -> IssuedPortalLink:
    """A one-time sign-in link to `customer`'s portal, valid LINK_MINUTES."""
    principal.require(Permission.CUSTOMERS_WRITE)
    check_id(customer_public_id, "customer", field="customerId")
    customer = await Customer.get_or_none(
        tenant_id=principal.tenant_id, public_id=customer_public_id
    )
    if customer is None:
        raise NotFoundError("no such customer", field="customerId")
    if customer.archived_at is not None:
        raise ValidationError("the customer is archived", field="customerId")
    secret = LINK_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    expires_at = now + timedelta(minutes=LINK_MINUTES)
    # Made from the console, the caller is a session: the link belongs to the key
    # that signed in (revoking it ends the link's sessions; signing out does not).
    caller = await ApiKey.get(id=principal.key_id).only("id", "session_of_id")
    await PortalLink.create(
        tenant_id=principal.tenant_id,
        customer_id=customer.id,
        created_by_id=caller.session_of_id or caller.id,
        secret_hash=_digest(secret),
        created_at=now,
        expires_at=expires_at,
    )
    return IssuedPortalLink(f"{base_url.rstrip('/')}/portal/link/{secret}", expires_at)


@operation
async def redeem_portal_link(secret: str) -> WebSession:
    """The portal session a link opens, once; an unknown, used or expired link (or
    one whose creating key was revoked since) is refused, all alike."""
    refused = AuthenticationError("this link is invalid, expired or already used")
    if not secret.startswith(LINK_PREFIX) or len(secret) > 100:
        raise refused
    now = clock.now()
    digest = _digest(secret)
    claimed = await PortalLink.filter(
        secret_hash=digest, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if claimed != 1:
        raise refused
    link = await PortalLink.get(secret_hash=digest)
    creator = await ApiKey.get(id=link.created_by_id)
    if creator.revoked_at is not None or (
        creator.expires_at is not None and creator.expires_at <= now
    ):
        raise refused
    if await Customer.filter(id=link.customer_id, archived_at__isnull=False).exists():
        raise refused  # archived since the link was made
    return await _open(
        tenant_id=link.tenant_id, role=Role.CUSTOMER, customer_id=link.customer_id, parent=creator
    )


@operation
async def sign_out(session_token: str) -> None:
    """Ends a web session (revokes its key); anything else is left alone."""
    try:
        auth = await authenticate(session_token)
    except AuthenticationError:
        return
    if auth.api_key.session_of_id is None:
        return  # never revoke a real API key from a cookie
    await ApiKey.filter(id=auth.api_key.id, revoked_at__isnull=True).update(
        revoked_at=clock.now(), updated_at=clock.now()
    )
    forget_keys()
