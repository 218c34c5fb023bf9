"""What plans, add-ons and coupons share: tenant-scoped lookups, per-currency
amounts stored as child rows, archiving and paginated listing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.transactions import in_transaction

from domain import bounds, clock
from domain.errors import ConflictError, NotFoundError, ValidationError
from domain.events import feed
from domain.idempotency import run_once
from domain.ids import check_id, new_id
from domain.money import Money, money_from_input
from domain.pagination import Page, PageRequest, paginate
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation

M = TypeVar("M", bound=Model)

STATUSES = ("active", "archived")


def amounts_from_input(entries: Sequence[dict[str, Any]], *, field: str) -> list[Money]:
    """Per-currency amounts: at least one, never negative, one per currency."""
    if not entries:
        raise ValidationError("at least one price is required", field=field, code="PRICE_REQUIRED")
    amounts: list[Money] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        money = money_from_input(
            currency=entry.get("currency"),
            amount_minor=entry.get("amount_minor"),
            amount=entry.get("amount"),
            field=f"{field}[{i}]",
        )
        if money.amount_minor < 0:
            raise ValidationError(
                "a price cannot be negative", field=f"{field}[{i}]", code="NEGATIVE_AMOUNT"
            )
        bounds.amount(money.amount_minor, field=f"{field}[{i}]", what="a price")
        if money.currency in seen:
            raise ValidationError(
                f"{money.currency} is listed twice", field=f"{field}[{i}].currency"
            )
        seen.add(money.currency)
        amounts.append(money)
    return sorted(amounts, key=lambda m: m.currency)  # the order they are read back in


async def replace_amounts(
    amount_model: type[Model], owner_field: str, owner_id: int, amounts: Iterable[Money]
) -> None:
    await amount_model.filter(**{owner_field: owner_id}).delete()
    await amount_model.bulk_create(
        [
            amount_model(
                **{owner_field: owner_id, "currency": m.currency, "amount_minor": m.amount_minor}
            )
            for m in amounts
        ]
    )


async def attach_amounts(
    rows: Sequence[Any], amount_model: type[Model], owner_field: str, attr: str
) -> None:
    """One SELECT for the amounts of every row (no N+1), sorted by currency."""
    by_owner: dict[int, list[Money]] = {row.id: [] for row in rows}
    if by_owner:
        found = await amount_model.filter(**{f"{owner_field}__in": list(by_owner)}).values_list(
            owner_field, "currency", "amount_minor"
        )
        for owner, currency, amount_minor in sorted(found, key=lambda r: (r[0], r[1])):
            by_owner[owner].append(Money(amount_minor, currency))
    for row in rows:
        setattr(row, attr, by_owner[row.id])


async def get_owned(
    model: type[M], principal: Principal, public_id: str, kind: str, *, field: str = "id"
) -> M:
    """A row of the caller's tenant; another tenant's id reads exactly as a missing one."""
    check_id(public_id, kind, field=field)
    row = await model.get_or_none(tenant_id=principal.tenant_id, public_id=public_id)
    if row is None:
        raise NotFoundError(f"no {kind.replace('_', '-')} {public_id}", field=field)
    return row


async def set_archived(
    model: type[M], principal: Principal, public_id: str, kind: str, archived: bool
) -> M:
    principal.require(Permission.CATALOG_WRITE)
    async with in_transaction():
        row = await get_owned(model.select_for_update(), principal, public_id, kind)  # type: ignore[arg-type]
        status = "archived" if archived else "active"
        if row.status != status:  # type: ignore[attr-defined]
            now = clock.now()
            row.status = status  # type: ignore[attr-defined]
            row.archived_at = now if archived else None  # type: ignore[attr-defined]
            row.updated_at = now  # type: ignore[attr-defined]
            await row.save(update_fields=["status", "archived_at", "updated_at"])
    return row


async def list_page(
    model: type[M],
    principal: Principal,
    page: PageRequest,
    *,
    status: str | None,
    search: str | None,
    search_fields: Sequence[str] = ("code", "name"),
    record: Any = None,
) -> Page[Any]:
    principal.require(Permission.CATALOG_READ)
    query = model.filter(tenant_id=principal.tenant_id)
    if status is not None:
        if status not in STATUSES:
            raise ValidationError(f"status must be one of {STATUSES}", field="status")
        query = query.filter(status=status)
    if search:
        conditions = [Q(**{f"{name}__icontains": search}) for name in search_fields]
        query = query.filter(Q(*conditions, join_type="OR"))
    columns = record.COLUMNS if record is not None else ()
    return await paginate(query, page, record=record, columns=columns)


async def find_one(
    model: type[M], principal: Principal, kind: str, *, public_id: str | None, code: str | None
) -> M | None:
    """Fetch by public id or by code; None when it is not in the caller's tenant."""
    principal.require(Permission.CATALOG_READ)
    if (public_id is None) == (code is None):
        raise ValidationError("give exactly one of id or code", field="id")
    if public_id is not None:
        check_id(public_id, kind)
        return await model.get_or_none(tenant_id=principal.tenant_id, public_id=public_id)
    return await model.get_or_none(tenant_id=principal.tenant_id, code=code)


async def create_with_code(
    model: type[M], principal: Principal, kind: str, fields: dict[str, Any]
) -> M:
    """Insert a row whose `code` is unique per tenant; a clash is a typed conflict."""
    clash = ConflictError(
        f"a {kind.replace('_', '-')} with code {fields['code']!r} exists",
        field="code",
        code="DUPLICATE_CODE",
    )
    if await model.exists(tenant_id=principal.tenant_id, code=fields["code"]):
        raise clash
    now = clock.now()
    try:
        return await model.create(
            public_id=new_id(kind),
            tenant_id=principal.tenant_id,
            created_at=now,
            updated_at=now,
            **fields,
        )
    except IntegrityError:
        raise clash from None


@dataclass(frozen=True)
class CatalogItems:
    """The mechanics plans, add-ons and coupons share: a tenant-scoped row with a code,
    per-currency amounts in a child table (`amount_model`, read into `attr`), archiving,
    lookups and listings. Each module keeps its own input rules."""

    model: type[Model]
    amount_model: type[Model]
    owner_field: str  # the child table's column pointing at the row: "plan_id", …
    kind: str  # the public id kind: "plan", "add_on", "coupon"
    attr: str = "price_list"
    record: Any = None  # optional slotted record type for listings

    async def with_amounts(self, row: Any) -> Any:
        await attach_amounts([row], self.amount_model, self.owner_field, self.attr)
        return row

    async def load(self, row_id: int) -> Any:
        return await self.with_amounts(await self.model.get(id=row_id))

    @operation(transaction=False)
    async def create(
        self,
        principal: Principal,
        fields: dict[str, Any],
        amounts: list[Money],
        *,
        operation: str,
        params: dict[str, Any],
        idempotency_key: str | None,
    ) -> Any:
        """Insert the row and its amounts in one transaction, once per idempotency key."""

        async def create() -> Any:
            row = await create_with_code(self.model, principal, self.kind, fields)
            await replace_amounts(self.amount_model, self.owner_field, row.id, amounts)
            setattr(row, self.attr, amounts)
            return row

        row = await run_once(
            tenant_id=principal.tenant_id,
            key=idempotency_key,
            operation=operation,
            params=params,
            create=create,
            load=self.load,
        )
        feed.tell(f"{self.kind}.created", row)
        return row

    @operation(transaction=False)
    async def update(
        self,
        principal: Principal,
        public_id: str,
        fields: dict[str, Any],
        amounts: list[Money] | None,
    ) -> Any:
        """Change the given columns and, when given, replace the amounts; one transaction."""
        if not fields and amounts is None:
            raise ValidationError("nothing to update", field="input")
        async with in_transaction():
            query = self.model.select_for_update()
            row = await get_owned(query, principal, public_id, self.kind)  # type: ignore[arg-type]
            if fields:
                row.update_from_dict({**fields, "updated_at": clock.now()})
                await row.save()
            if amounts is not None:
                await replace_amounts(self.amount_model, self.owner_field, row.id, amounts)
        feed.tell(f"{self.kind}.updated", row)
        return await self.with_amounts(row)

    @operation(transaction=False)
    async def set_archived(self, principal: Principal, public_id: str, archived: bool) -> Any:
        row = await set_archived(self.model, principal, public_id, self.kind, archived)
        feed.tell(f"{self.kind}.{'archived' if archived else 'restored'}", row)
        return await self.with_amounts(row)

    async def get(
        self, principal: Principal, *, public_id: str | None, code: str | None
    ) -> Any | None:
        row = await find_one(self.model, principal, self.kind, public_id=public_id, code=code)
        return None if row is None else await self.with_amounts(row)

    async def list(
        self, principal: Principal, page: PageRequest, *, status: str | None, search: str | None
    ) -> Page[Any]:
        result = await list_page(
            self.model, principal, page, status=status, search=search, record=self.record
        )
        await attach_amounts(result.items, self.amount_model, self.owner_field, self.attr)
        return result

    async def by_ids(self, tenant_id: int, ids: list[int]) -> list[Any | None]:
        """Batch fetch for DataLoaders: two SELECTs whatever the count, in the order asked."""
        query = self.model.filter(tenant_id=tenant_id, id__in=ids)
        if self.record is not None:
            found = [self.record(**row) for row in await query.values(*self.record.COLUMNS)]
        else:
            found = await query
        rows = {row.id: row for row in found}
        await attach_amounts(list(rows.values()), self.amount_model, self.owner_field, self.attr)
        return [rows.get(i) for i in ids]
