"""Is an exception the database being unreachable (as opposed to a bug)?

The HTTP routes answer such a failure with 503 and a code a client can retry on,
instead of a plain-text 500."""

from __future__ import annotations

import socket
import sqlite3

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
