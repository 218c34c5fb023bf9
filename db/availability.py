"""Is an exception the database being unreachable (as opposed to a bug)?

The HTTP routes answer such a failure with 503 and a code a client can retry on,
instead of a plain-text 500."""

from __future__ import annotations

import socket
import sqlite3
from typing import Any

import asyncpg
from tortoise.exceptions import DBConnectionError

_UNREACHABLE = (
    ConnectionError,  # refused, reset, aborted: the server is down or went away
    socket.gaierror,  # the host name does not resolve
    TimeoutError,  # connecting timed out
    DBConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # the pool's connection was closed under it
    asyncpg.exceptions.CannotConnectNowError,  # starting up or shutting down
    asyncpg.exceptions.TooManyConnectionsError,
)
# SQLite's "cannot open the file" and "busy" are the same thing for a client: retry later.
_SQLITE_UNAVAILABLE = ("unable to open database file", "disk i/o error", "database is locked")


def database_unavailable(exc: BaseException | None) -> bool:
    """True when `exc`, or an exception it was raised from, says the database
    cannot be reached."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, _UNREACHABLE):
            return True
        if isinstance(exc, sqlite3.OperationalError) and any(
            text in str(exc).lower() for text in _SQLITE_UNAVAILABLE
        ):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _release_locks_when_connecting_fails() -> None:
    """Tortoise (1.1) takes a SQLite connection's lock and then connects; when
    connecting fails (the file cannot be opened) the lock is never released, and
    every later query, /health's included, waits on it forever. The same steps,
    releasing the lock when connecting raises."""
    from tortoise.backends.base.client import ConnectionWrapper
    from tortoise.backends.sqlite.client import SqliteTransactionContext

    if getattr(ConnectionWrapper.__aenter__, "_releases_on_failure", False):
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
