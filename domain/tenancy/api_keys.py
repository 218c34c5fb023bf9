"""API keys: shown once, stored as a SHA-256 hash, looked up by their prefix.

A key is `tly_<12 lookup chars>_<32 secret chars>`; the keys are random, so a fast
hash is enough (no password stretching needed) and keeps authentication cheap.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import string
import time
from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from db import raw
from db.models import ApiKey, Customer, Tenant
from db.royalty_models import Payee
from domain import clock, validation
from domain.errors import AuthenticationError, NotFoundError, ValidationError
from domain.ids import check_id, new_id
from domain.tenancy.access import Permission, Principal, Role

_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class IssuedKey:
    api_key: ApiKey
    secret: str  # the whole key; returned once, never stored


@dataclass(frozen=True, slots=True)
class Authenticated:
    principal: Principal
    tenant: Tenant
    api_key: ApiKey


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_key(
    *,
    tenant_id: int,
    role: Role,
    name: str,
    customer_id: int | None = None,
    payee_id: int | None = None,
    expires_at: datetime | None = None,
    session_of_id: int | None = None,
) -> IssuedKey:
    name = validation.text(name, field="name", max_length=100, required=True)
    if role is Role.CUSTOMER and customer_id is None:
        raise ValidationError("a customer token needs a customer", field="customerId")
    if role is not Role.CUSTOMER and customer_id is not None:
        raise ValidationError("only customer tokens are bound to a customer", field="customerId")
    if role is Role.PAYEE and payee_id is None:
        raise ValidationError("a payee token needs a payee", field="payeeId")
    if role is not Role.PAYEE and payee_id is not None:
        raise ValidationError("only payee tokens are bound to a payee", field="payeeId")
    now = clock.now()
    if expires_at is not None and expires_at <= now:
        raise ValidationError("expiresAt must be in the future", field="expiresAt")
    prefix = "tly_" + _random(12)
    token = f"{prefix}_{_random(32)}"
    key = await ApiKey.create(
        public_id=new_id("api_key"),
        tenant_id=tenant_id,
        customer_id=customer_id,
        payee_id=payee_id,
        name=name,
        role=role.value,
        prefix=prefix,
        secret_hash=_hash(token),
        expires_at=expires_at,
        session_of_id=session_of_id,
        created_at=now,
        updated_at=now,
    )
    return IssuedKey(api_key=key, secret=token)


async def create_api_key(
    principal: Principal,
    *,
    role: Role,
    name: str,
    customer_public_id: str | None = None,
    payee_public_id: str | None = None,
    expires_at: datetime | None = None,
) -> IssuedKey:
    principal.require(Permission.API_KEYS)
    customer_id = payee_id = None
    if customer_public_id is not None:
        check_id(customer_public_id, "customer", field="customerId")
        customer = await Customer.get_or_none(
            tenant_id=principal.tenant_id, public_id=customer_public_id
        )
        if customer is None:
            raise NotFoundError("no such customer", field="customerId")
        customer_id = customer.id
    if payee_public_id is not None:
        # The payee row itself (db), not the royalties context: tenancy sits below it.
        check_id(payee_public_id, "payee", field="payeeId")
        payee = await Payee.get_or_none(tenant_id=principal.tenant_id, public_id=payee_public_id)
        if payee is None:
            raise NotFoundError("no such payee", field="payeeId")
        payee_id = payee.id
    async with in_transaction():
        return await issue_key(
            tenant_id=principal.tenant_id,
            role=role,
            name=name,
            customer_id=customer_id,
            payee_id=payee_id,
            expires_at=expires_at,
        )


async def list_api_keys(principal: Principal) -> list[ApiKey]:
    principal.require(Permission.API_KEYS)
    return await ApiKey.filter(tenant_id=principal.tenant_id).order_by("id")


async def revoke_api_key(principal: Principal, public_id: str) -> ApiKey:
    principal.require(Permission.API_KEYS)
    check_id(public_id, "api_key")
    async with in_transaction():
        key = await ApiKey.select_for_update().get_or_none(
            tenant_id=principal.tenant_id, public_id=public_id
        )
        if key is None:
            raise NotFoundError("no such API key", field="id")
        if key.revoked_at is None:
            key.revoked_at = key.updated_at = clock.now()
            await key.save(update_fields=["revoked_at", "updated_at"])
        # The web sessions it signed in end with it.
        await ApiKey.filter(session_of_id=key.id, revoked_at__isnull=True).update(
            revoked_at=key.revoked_at, updated_at=key.revoked_at
        )
    forget_keys()
    return key


@functools.cache
def _auth_sql() -> str:
    # Hand-written: building the ORM's select_related query cost more than the
    # round trip, on every request.
    return (
        f"SELECT {raw.columns(ApiKey, 'k')}, {raw.columns(Tenant, 't')} FROM api_key k "
        "JOIN tenant t ON t.id = k.tenant_id WHERE k.prefix = $1"
    )


# Keys that authenticated in the last few seconds, by the hash of the whole token:
# a partner calling many times a second costs one lookup per interval, not one per
# call. Revoking or changing a key or tenant in this process clears it at once;
# a revocation made by another process takes effect here within CACHE_SECONDS.
CACHE_SECONDS = 5.0
_CACHE_MAX = 10_000
_recent: dict[str, tuple[float, Authenticated]] = {}


def forget_keys() -> None:
    _recent.clear()


async def authenticate(token: str) -> Authenticated:
    """One SELECT (key joined with its tenant), or none for a key seen in the last
    few seconds. Every failure reads the same."""
    failure = AuthenticationError("invalid, expired or revoked API key")
    prefix, sep, _ = token.rpartition("_")
    if not sep or not prefix.startswith("tly_") or len(prefix) != 16:
        raise failure
    digest = _hash(token)
    hit = _recent.get(digest)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        expires_at = hit[1].api_key.expires_at
        if expires_at is not None and expires_at <= clock.now():
            raise failure
        return hit[1]
    rows = await raw.fetch(ApiKey, _auth_sql(), [prefix])
    if not rows:
        raise failure
    key = raw.instance(ApiKey, rows[0], "k")
    key.tenant = raw.instance(Tenant, rows[0], "t")
    if not hmac.compare_digest(key.secret_hash, digest):
        raise failure
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= clock.now()):
        raise failure
    principal = Principal(
        tenant_id=key.tenant_id,
        role=Role(key.role),
        key_id=key.id,
        customer_id=key.customer_id,
        payee_id=key.payee_id,
    )
    auth = Authenticated(principal=principal, tenant=key.tenant, api_key=key)
    if len(_recent) >= _CACHE_MAX:
        _recent.clear()
    _recent[digest] = (time.monotonic(), auth)
    return auth
