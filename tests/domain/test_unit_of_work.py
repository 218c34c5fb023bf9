"""The unit of work: an operation's writes commit together, and what it asked to run
after commit runs once, after the outermost operation, and never for writes that
rolled back (a failed operation, or a nested one whose savepoint was undone)."""

from __future__ import annotations

import pytest

from db.models import Tenant
from domain import clock
from domain.unit_of_work import after_commit, collected, in_operation, operation
from tests.factories import make_tenant

pytestmark = pytest.mark.usefixtures("db")


async def _rename(tenant_id: int, name: str) -> None:
    await Tenant.filter(id=tenant_id).update(name=name, updated_at=clock.now())


async def test_after_commit_work_runs_once_the_outermost_operation_has_committed() -> None:
    tenant = await make_tenant()
    seen: list[str] = []

    @operation
    async def inner() -> None:
        await _rename(tenant.id, "inner")

        async def note() -> None:
            seen.append((await Tenant.get(id=tenant.id)).name)

        after_commit(note)

    @operation
    async def outer() -> None:
        await inner()
        assert seen == []  # the inner operation's work waits for the outer one
        await _rename(tenant.id, "outer")

    await outer()
    assert seen == ["outer"] and not in_operation()


async def test_a_failed_operation_runs_none_of_its_after_commit_work() -> None:
    tenant = await make_tenant(name="before")
    seen: list[str] = []

    @operation
    async def fails() -> None:
        await _rename(tenant.id, "never")
        after_commit(lambda: _append(seen, "sent"))
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        await fails()
    assert seen == []
    assert (await Tenant.get(id=tenant.id)).name == "before"


async def test_a_nested_operation_that_fails_takes_back_only_what_it_added() -> None:
    tenant = await make_tenant(name="before")
    seen: list[str] = []

    @operation
    async def nested_fails() -> None:
        await _rename(tenant.id, "rolled back")
        after_commit(lambda: _append(seen, "nested"))
        stored = collected("things")
        assert stored is not None
        stored.append("nested")
        raise ValueError("refused")

    @operation
    async def outer() -> list[str]:
        stored = collected("things")
        assert stored is not None
        stored.append("outer")
        after_commit(lambda: _append(seen, "outer"))
        with pytest.raises(ValueError):
            await nested_fails()
        return list(stored)

    assert await outer() == ["outer"]
    assert seen == ["outer"]
    assert (await Tenant.get(id=tenant.id)).name == "before"


async def test_after_commit_outside_an_operation_is_a_mistake() -> None:
    with pytest.raises(RuntimeError):
        after_commit(lambda: _append([], "x"))
    assert collected("things") is None


async def test_one_failing_after_commit_step_does_not_stop_the_others() -> None:
    seen: list[str] = []

    async def broken() -> None:
        raise RuntimeError("bus down")

    @operation(transaction=False)
    async def op() -> str:
        after_commit(broken)
        after_commit(lambda: _append(seen, "second"))
        return "done"

    assert await op() == "done"
    assert seen == ["second"]


async def _append(seen: list[str], value: str) -> None:
    seen.append(value)
