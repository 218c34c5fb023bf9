"""Work tagging (issue 16): a line of a one-off invoice, or an add-on, may name the
work it sells (a book, a course, a track), so the work's authors earn royalties on
it once the invoice is paid.

A work is named by its public id (`wrk_…`) and must be one of the caller's tenant;
another tenant's work reads exactly as a missing one. An archived work is refused
for new lines: it is no longer sold (invoices already tagged keep it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from db.royalty_models import Work
from domain.errors import NotFoundError, ValidationError
from domain.ids import check_id
from domain.invoicing.builder import DraftLine

SALE, LICENSE = "SALE", "LICENSE"
WORK_USES = (SALE, LICENSE)


class WorkArchived(ValidationError):
    code = "WORK_ARCHIVED"


async def works_by_public_id(tenant_id: int, wanted: dict[str, str]) -> dict[str, int]:
    """`wanted`: public id → the input field naming it. One query for all of them;
    the first one missing (or archived) is refused with its field."""
    for public_id, field in wanted.items():
        check_id(public_id, "work", field=field)
    if not wanted:
        return {}
    rows = await Work.filter(tenant_id=tenant_id, public_id__in=sorted(wanted)).values_list(
        "public_id", "id", "archived_at"
    )
    found = {public_id: (pk, archived) for public_id, pk, archived in rows}
    for public_id, field in wanted.items():
        if public_id not in found:
            raise NotFoundError(f"no work {public_id}", field=field)
        if found[public_id][1] is not None:
            raise WorkArchived(f"work {public_id} is archived", field=field)
    return {public_id: pk for public_id, (pk, _) in found.items()}


async def work_of(tenant_id: int, public_id: Any, *, field: str = "workId") -> int | None:
    """The internal id of the tenant's work `public_id`; None when none is given."""
    if public_id is None:
        return None
    if not isinstance(public_id, str):
        raise ValidationError("workId is a work id (wrk_…)", field=field, code="INVALID_ID")
    return (await works_by_public_id(tenant_id, {public_id: field}))[public_id]


def _work_use(item: dict[str, Any], where: str) -> str | None:
    """SALE by default when a work is named; a use without a work means nothing."""
    use = item.get("work_use")
    if item.get("work_id") is None:
        if use is not None:
            raise ValidationError(
                "workUse needs a workId", field=f"{where}.workUse", code="WORK_USE_WITHOUT_WORK"
            )
        return None
    if use is None:
        return SALE
    if not isinstance(use, str) or use.upper() not in WORK_USES:
        raise ValidationError("workUse is SALE or LICENSE", field=f"{where}.workUse")
    return use.upper()


async def tag_lines(
    tenant_id: int, items: Sequence[dict[str, Any]], lines: list[DraftLine]
) -> list[DraftLine]:
    """`lines` (one per item, in order) with the work and use each item names."""
    uses = [_work_use(item, f"items[{i}]") for i, item in enumerate(items)]
    wanted: dict[str, str] = {}
    for i, item in enumerate(items):
        ref = item.get("work_id")
        if ref is None:
            continue
        if not isinstance(ref, str):
            raise ValidationError(
                "workId is a work id (wrk_…)", field=f"items[{i}].workId", code="INVALID_ID"
            )
        wanted.setdefault(ref, f"items[{i}].workId")
    if not wanted:
        return lines
    works = await works_by_public_id(tenant_id, wanted)
    return [
        line
        if item.get("work_id") is None
        else dataclasses.replace(line, work_id=works[item["work_id"]], work_use=use)
        for item, line, use in zip(items, lines, uses, strict=True)
    ]
