"""db/availability.py copies two Tortoise methods to release SQLite's lock when
connecting fails; it applies only to the exact methods it copied. A Tortoise upgrade
that changes them must fail here, so someone checks whether the mend is still
needed and still right."""

from __future__ import annotations

from tortoise.backends.base.client import ConnectionWrapper

import db.availability  # noqa: F401  (applies the mend)


def test_the_sqlite_lock_mend_is_applied() -> None:
    assert getattr(ConnectionWrapper.__aenter__, "_releases_on_failure", False)
