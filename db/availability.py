"""Tortoise's SQLite client, made to release its lock when connecting fails (applied
on import; db/config.py imports this module, so every process that opens the
database has it)."""

from __future__ import annotations

import hashlib
import inspect
import logging
from typing import Any

log = logging.getLogger("tally.db")


def _release_locks_when_connecting_fails() -> None:
    """Tortoise (1.1) takes a SQLite connection's lock and then connects; when
    connecting fails (the file cannot be opened) the lock is never released, and
    every later query, /health's included, waits on it forever. The same steps,
    releasing the lock when connecting raises."""
    from tortoise.backends.base.client import ConnectionWrapper
    from tortoise.backends.sqlite.client import SqliteTransactionContext

    if getattr(ConnectionWrapper.__aenter__, "_releases_on_failure", False):
        return
    # The copies below are of these exact methods: a Tortoise whose methods differ is
    # left alone (and tests/db/test_availability.py fails, asking for a new look).
    for method, digest in (
        (ConnectionWrapper.__aenter__, "34cbbc3cdf1ce8f7"),
        (SqliteTransactionContext.__aenter__, "0fb0ed89e66c8595"),
    ):
        source = inspect.getsource(method).encode()
        if hashlib.sha256(source).hexdigest()[:16] != digest:
            log.warning("Tortoise's %s changed: SQLite lock mend not applied", method)
            return

    async def enter_connection(self: Any) -> Any:
        await self._lock.acquire()
        try:
            await self.ensure_connection()
        except BaseException:
            self._lock.release()
            raise
        return self.connection

    original_transaction_enter = SqliteTransactionContext.__aenter__

    async def enter_transaction(self: Any) -> Any:
        if not self.connection._connection:
            async with self._trxlock:  # connect first, under the lock, released either way
                await self.ensure_connection()
        return await original_transaction_enter(self)

    enter_connection._releases_on_failure = True  # type: ignore[attr-defined]
    ConnectionWrapper.__aenter__ = enter_connection  # type: ignore[method-assign]
    SqliteTransactionContext.__aenter__ = enter_transaction  # type: ignore[method-assign]


_release_locks_when_connecting_fails()
