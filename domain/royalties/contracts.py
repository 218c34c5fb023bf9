"""Contracts: what one payee earns on one work, by transaction type, and the reserve
held against returns. One contract per (work, payee); its terms are validated by
`terms.parse_terms` and stored in their normal form (`terms.rules_json`).

A change of terms applies to the periods the royalty run has not stated yet; what
was earned keeps the rate it was earned at (earnings rows carry their rate).
"""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError

from db.royalty_models import Contract
from domain import clock
from domain.errors import ConflictError, NotFoundError, ValidationError
from domain.ids import check_id, new_id
from domain.money import money_from_input
from domain.pagination import Page, PageRequest, paginate
from domain.royalties.payees import check_active, load_payee, own_payee, require_read
from domain.royalties.period_guard import require_no_run_in_progress
from domain.royalties.terms import parse_terms, reserve_json, rules_json
from domain.royalties.works import load_work
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation


def _duplicate() -> ConflictError:
    return ConflictError(
        "this payee already has a contract on this work: update it instead",
        field="payeeId",
        code="DUPLICATE_CONTRACT",
    )


def _scope(principal: Principal) -> dict[str, Any]:
    found: dict[str, Any] = {"tenant_id": principal.tenant_id}
    own = own_payee(principal)
    if own is not None:
        found["payee_id"] = own
    return found


async def load_contract(
    principal: Principal, public_id: str, *, field: str = "id", lock: bool = False
) -> Contract:
    check_id(public_id, "contract", field=field)
    query = Contract.select_for_update() if lock else Contract
    found = await query.get_or_none(public_id=public_id, **_scope(principal))
    if found is None:
        raise NotFoundError(f"no contract {public_id}", field=field)
    return found


def _rule_item(i: int, item: dict[str, Any]) -> dict[str, Any]:
    """One rule of the API's list shape ({type, rate, basis, escalators, flat_fee}) in
    terms.py's form; fields left out (None) are left out."""
    out: dict[str, Any] = {}
    if item.get("rate") is not None:
        out["rate"] = item["rate"]
    if item.get("basis") is not None:
        out["basis"] = item["basis"]
    if item.get("escalators") is not None:
        out["escalators"] = [
            {"upTo": t.get("upTo", t.get("up_to")), "rate": t.get("rate")}
            for t in item["escalators"]
        ]
    fees = item.get("flatFee", item.get("flat_fee"))
    if fees is not None:
        out["flatFee"] = {}
        for j, fee in enumerate(fees):
            money = money_from_input(
                currency=fee.get("currency"),
                amount_minor=fee.get("amount_minor", fee.get("amountMinor")),
                amount=fee.get("amount"),
                field=f"rules[{i}].flatFee[{j}]",
            )
            if money.currency in out["flatFee"]:
                raise ValidationError(
                    f"one flat fee per currency ({money.currency} twice)",
                    field=f"rules[{i}].flatFee[{j}]",
                    code="INVALID_CONTRACT",
                )
            out["flatFee"][money.currency] = money.amount_minor
    return out


def rules_of(rules: Any) -> Any:
    """Rules as terms.py reads them: a mapping by transaction type as it is, or the
    API's list of per-type items (each type once)."""
    if not isinstance(rules, list):
        return rules
    mapping: dict[str, Any] = {}
    for i, item in enumerate(rules):
        kind = item.get("type") if isinstance(item, dict) else None
        if not isinstance(kind, str):
            raise ValidationError("a rule names its type", field=f"rules[{i}].type")
        if kind in mapping:
            raise ValidationError(
                f"{kind} has two rules", field=f"rules[{i}].type", code="INVALID_CONTRACT"
            )
        mapping[kind] = _rule_item(i, item)
    return mapping


def reserve_of(reserve: Any) -> Any:
    if isinstance(reserve, dict) and "release_after" in reserve:
        return {"percent": reserve.get("percent"), "releaseAfter": reserve["release_after"]}
    return reserve


def _terms(rules: Any, reserve: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    terms = parse_terms(rules_of(rules), reserve_of(reserve))
    return rules_json(terms), reserve_json(terms)


@operation
async def create_contract(principal: Principal, data: dict[str, Any]) -> Contract:
    """{work_id, payee_id, rules, reserve}: rules and reserve as terms.py reads them."""
    principal.require(Permission.ROYALTIES_MANAGE)
    await require_no_run_in_progress(principal.tenant_id)
    work = await load_work(principal, data.get("work_id") or "", field="workId")
    if work.archived_at is not None:
        raise ValidationError("the work is archived", field="workId", code="WORK_ARCHIVED")
    payee = check_active(await load_payee(principal, data.get("payee_id") or "", field="payeeId"))
    rules, reserve = _terms(data.get("rules"), data.get("reserve"))
    if await Contract.exists(work_id=work.id, payee_id=payee.id):
        raise _duplicate()
    now = clock.now()
    try:
        return await Contract.create(
            public_id=new_id("contract"),
            tenant_id=principal.tenant_id,
            work_id=work.id,
            payee_id=payee.id,
            rules=rules,
            reserve=reserve,
            created_at=now,
            updated_at=now,
        )
    except IntegrityError:
        raise _duplicate() from None


@operation
async def update_contract(principal: Principal, contract_id: str, data: dict[str, Any]) -> Contract:
    """New rules (all of them) and/or a new reserve (null: none), for the periods the
    run has not stated yet."""
    principal.require(Permission.ROYALTIES_MANAGE)
    await require_no_run_in_progress(principal.tenant_id)
    contract = await load_contract(principal, contract_id, lock=True)
    if contract.archived_at is not None:
        raise ValidationError("the contract is archived", field="id", code="CONTRACT_ARCHIVED")
    rules = data["rules"] if "rules" in data else contract.rules
    reserve = data["reserve"] if "reserve" in data else contract.reserve
    contract.rules, contract.reserve = _terms(rules, reserve)
    contract.updated_at = clock.now()
    await contract.save(update_fields=["rules", "reserve", "updated_at"])
    return contract


@operation
async def archive_contract(principal: Principal, contract_id: str) -> Contract:
    """From the next run on it earns nothing new; returns on what it earned are still
    clawed back, and its reserves released."""
    principal.require(Permission.ROYALTIES_MANAGE)
    await require_no_run_in_progress(principal.tenant_id)
    contract = await load_contract(principal, contract_id, lock=True)
    if contract.archived_at is None:
        contract.archived_at = contract.updated_at = clock.now()
        await contract.save(update_fields=["archived_at", "updated_at"])
    return contract


async def get_contract(principal: Principal, contract_id: str) -> Contract | None:
    require_read(principal)
    try:
        return await load_contract(principal, contract_id)
    except NotFoundError:
        return None


async def list_contracts(
    principal: Principal,
    page: PageRequest,
    *,
    work_id: str | None = None,
    payee_id: str | None = None,
    include_archived: bool = False,
) -> Page[Contract]:
    """The caller's contracts (a payee token: its own), of a work and/or a payee."""
    require_read(principal)
    query = Contract.filter(**_scope(principal))
    if work_id is not None:
        query = query.filter(work_id=(await load_work(principal, work_id)).id)
    if payee_id is not None:
        query = query.filter(payee_id=(await load_payee(principal, payee_id)).id)
    if not include_archived:
        query = query.filter(archived_at=None)
    return await paginate(query, page)
