"""Works (a book, a course, a track, a model) and their contributors' shares.

Shares take effect from a date and keep their history: the shares of a day are the
rows of the latest `effective_from` on or before it; setting shares for a date
replaces that date's rows only. A payee token sees the works it contributes to (or
holds a contract on); a service key, which records reads, sees every work.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery

from db.royalty_models import Contract, Payee, Work, WorkShare
from domain import clock, validation
from domain.errors import ConflictError, NotFoundError, ValidationError
from domain.ids import new_id
from domain.pagination import Page, PageRequest, paginate
from domain.royalties.earnings import check_shares
from domain.royalties.payees import load_payee, own_payee, require_read
from domain.royalties.period_guard import open_periods
from domain.royalties.settings import RoyaltyPeriod
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation

ID_SHAPE = re.compile(r"^wrk_[0-9A-Za-z]{16}$")
_ROLE = re.compile(r"^[a-z][a-z_-]{0,15}$")
MAX_CONTRIBUTORS = 50


def _duplicate(code: str) -> ConflictError:
    return ConflictError(f"a work with code {code!r} exists", field="code", code="DUPLICATE_CODE")


def _of_payee(payee_id: int) -> Q:
    """Works a payee has (or had, or will have) a share of, or holds a contract on: two
    subqueries, so a listing needs no join nor DISTINCT and its count stays right."""
    shared = WorkShare.filter(payee_id=payee_id).values("work_id")
    contracted = Contract.filter(payee_id=payee_id).values("work_id")
    return Q(id__in=Subquery(shared)) | Q(id__in=Subquery(contracted))


def _visible(principal: Principal) -> Q:
    """What the caller sees: the tenant's works; a payee token, its own works."""
    own = own_payee(principal)
    if own is None:
        return Q(tenant_id=principal.tenant_id)
    return Q(tenant_id=principal.tenant_id) & _of_payee(own)


async def load_work(
    principal: Principal, ref: str, *, field: str = "workId", lock: bool = False
) -> Work:
    """A work by public id (wrk_…) or else by code, within what the caller sees."""
    if not isinstance(ref, str) or not ref:
        raise ValidationError("give a work id (wrk_…) or code", field=field)
    by = {"public_id": ref} if ID_SHAPE.match(ref) else {"code": ref}
    if own_payee(principal) is not None:
        found = await Work.filter(_visible(principal), **by).first()
    else:
        query = Work.select_for_update() if lock else Work
        found = await query.get_or_none(tenant_id=principal.tenant_id, **by)
    if found is None:
        raise NotFoundError(f"no work {ref}", field=field)
    return found


async def _period_closed(principal: Principal, day: date) -> bool:
    """Whether a royalty run has started for the period of `day` or a later one: its
    statements are (being) written, so what they were computed from stays put."""
    period = str(RoyaltyPeriod(day.year, day.month))
    return not await open_periods(principal.tenant_id, {period})


def _clean_shares(shares: Any) -> list[tuple[str, Decimal, str]]:
    """[(payee public id, share, role)] from [{payeeId, share, role}], each checked,
    summing to exactly 100."""
    if not isinstance(shares, list) or not shares:
        raise ValidationError(
            "a work needs at least one contributor", field="shares", code="SHARES_NOT_100"
        )
    if len(shares) > MAX_CONTRIBUTORS:
        raise ValidationError(f"at most {MAX_CONTRIBUTORS} contributors", field="shares")
    seen: dict[str, int] = {}
    raw: dict[str, object] = {}
    roles = []
    for i, item in enumerate(shares):
        if not isinstance(item, dict):
            raise ValidationError("a share is {payeeId, share, role}", field=f"shares[{i}]")
        payee = item.get("payeeId", item.get("payee_id"))
        if not isinstance(payee, str) or not payee:
            raise ValidationError("payeeId is required", field=f"shares[{i}].payeeId")
        if payee in seen:
            raise ValidationError(
                f"{payee} is listed twice", field=f"shares[{i}].payeeId", code="DUPLICATE_PAYEE"
            )
        seen[payee] = i
        role = str(item.get("role") or "author").strip().lower()
        if not _ROLE.match(role):
            raise ValidationError(
                "role is a lower-case word of at most 16 letters (author, translator…)",
                field=f"shares[{i}].role",
            )
        roles.append(role)
        raw[str(i)] = item.get("share")
    try:
        parsed = check_shares(raw)
    except ValidationError as error:
        if error.field and error.field.startswith("shares["):
            error.field = error.field.replace("]", "].share", 1)
        raise
    return [(p, parsed[str(i)], roles[i]) for p, i in seen.items()]


def _share_text(share: Decimal) -> str:
    text = format(share, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


async def write_shares(
    principal: Principal, work: Work, shares: Any, effective_from: date | None
) -> list[WorkShare]:
    """Replace the shares of `work` (a row the caller locked) for one date."""
    cleaned = _clean_shares(shares)
    if not isinstance(effective_from, date):
        raise ValidationError("effectiveFrom is a date (2026-11-01)", field="effectiveFrom")
    if await _period_closed(principal, effective_from):
        raise ValidationError(
            "a royalty run has already covered that date: shares change from a later one",
            field="effectiveFrom",
            code="PERIOD_CLOSED",
        )
    refs = [p for p, _, _ in cleaned]
    payees = await Payee.filter(tenant_id=principal.tenant_id, public_id__in=refs).values(
        "id", "public_id", "archived_at"
    )
    by_ref = {row["public_id"]: row for row in payees}
    for i, ref in enumerate(refs):
        row = by_ref.get(ref)
        if row is None:
            raise NotFoundError(f"no payee {ref}", field=f"shares[{i}].payeeId")
        if row["archived_at"] is not None:
            raise ValidationError(
                f"payee {ref} is archived", field=f"shares[{i}].payeeId", code="PAYEE_ARCHIVED"
            )
    await WorkShare.filter(work_id=work.id, effective_from=effective_from).delete()
    now = clock.now()
    rows = [
        WorkShare(
            work_id=work.id,
            payee_id=by_ref[ref]["id"],
            share=_share_text(share),
            role=role,
            effective_from=effective_from,
            created_at=now,
        )
        for ref, share, role in cleaned
    ]
    await WorkShare.bulk_create(rows)
    work.updated_at = now
    await work.save(update_fields=["updated_at"])
    return rows


def _clean_work(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if creating or "code" in data:
        out["code"] = validation.code(data.get("code", ""))
    if creating or "title" in data:
        out["title"] = validation.text(
            data.get("title"), field="title", max_length=300, required=True
        )
    return out


@operation
async def create_work(principal: Principal, data: dict[str, Any]) -> Work:
    """A work, with its first shares when `shares` are given (from `effective_from`,
    today by default)."""
    principal.require(Permission.ROYALTIES_MANAGE)
    fields = _clean_work(data, creating=True)
    if await Work.exists(tenant_id=principal.tenant_id, code=fields["code"]):
        raise _duplicate(fields["code"])
    now = clock.now()
    try:
        work = await Work.create(
            public_id=new_id("work"),
            tenant_id=principal.tenant_id,
            created_at=now,
            updated_at=now,
            **fields,
        )
    except IntegrityError:
        raise _duplicate(fields["code"]) from None
    if data.get("shares") is not None:
        day = data.get("effective_from") or now.date()
        await write_shares(principal, work, data["shares"], day)
    return work


@operation
async def update_work(principal: Principal, work_id: str, data: dict[str, Any]) -> Work:
    principal.require(Permission.ROYALTIES_MANAGE)
    work = await load_work(principal, work_id, field="id", lock=True)
    fields = _clean_work(data, creating=False)
    code = fields.get("code")
    if code is not None and code != work.code:
        if await Work.exists(tenant_id=principal.tenant_id, code=code):
            raise _duplicate(code)
    for name, value in fields.items():
        setattr(work, name, value)
    work.updated_at = clock.now()
    try:
        await work.save(update_fields=[*fields, "updated_at"])
    except IntegrityError:
        raise _duplicate(code or "") from None
    return work


@operation
async def archive_work(principal: Principal, work_id: str) -> Work:
    """Sales of an archived work still earn under its contracts; it takes no new ones."""
    principal.require(Permission.ROYALTIES_MANAGE)
    work = await load_work(principal, work_id, field="id", lock=True)
    if work.archived_at is None:
        work.archived_at = work.updated_at = clock.now()
        await work.save(update_fields=["archived_at", "updated_at"])
    return work


@operation
async def set_work_shares(
    principal: Principal, work_id: str, shares: list[dict[str, Any]], effective_from: date
) -> Work:
    """The contributors of a work from `effective_from` on: [{payeeId, share, role}],
    shares as percent strings summing to exactly 100 (33.33 + 33.33 + 33.34)."""
    principal.require(Permission.ROYALTIES_MANAGE)
    work = await load_work(principal, work_id, field="workId", lock=True)
    await write_shares(principal, work, shares, effective_from)
    return work


async def get_work(principal: Principal, ref: str) -> Work | None:
    require_read(principal, service=True)
    try:
        return await load_work(principal, ref, field="id")
    except NotFoundError:
        return None


async def list_works(
    principal: Principal,
    page: PageRequest,
    *,
    include_archived: bool = False,
    payee_id: str | None = None,
) -> Page[Work]:
    """The caller's works; `payee_id`: those the payee contributes to (a share of any
    date) or holds a contract on."""
    require_read(principal, service=True)
    query = Work.filter(_visible(principal))
    if not include_archived:
        query = query.filter(archived_at=None)
    if payee_id is not None:
        payee = await load_payee(principal, payee_id)
        query = query.filter(_of_payee(payee.id))
    return await paginate(query, page)


async def works_by_ids(principal: Principal, ids: list[int]) -> list[Work | None]:
    """Works by internal id in the order asked (a loader); a payee token's contracts
    and statements name only works it may see, so the tenant bounds this."""
    rows = await Work.filter(tenant_id=principal.tenant_id, id__in=sorted(set(ids)))
    found = {w.id: w for w in rows}
    return [found.get(i) for i in ids]


async def shares_by_work(work_ids: list[int]) -> list[list[WorkShare]]:
    """Every share row of each work (all dates), by date then id (a loader)."""
    rows = await WorkShare.filter(work_id__in=sorted(set(work_ids))).order_by(
        "effective_from", "id"
    )
    grouped: dict[int, list[WorkShare]] = defaultdict(list)
    for row in rows:
        grouped[row.work_id].append(row)  # type: ignore[attr-defined]
    return [grouped.get(i, []) for i in work_ids]


def current_and_history(
    rows: list[WorkShare], today: date
) -> tuple[list[WorkShare], list[tuple[date, list[WorkShare]]]]:
    """A work's share rows (by date) split into the shares in force on `today` and the
    full history by date (scheduled future dates included), oldest first."""
    by_date: dict[date, list[WorkShare]] = defaultdict(list)
    for row in rows:
        by_date[row.effective_from].append(row)
    history = sorted(by_date.items())
    current: list[WorkShare] = []
    for day, group in history:
        if day <= today:
            current = group
    return current, history
