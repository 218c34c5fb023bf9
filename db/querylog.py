"""Count the SQL statements a block of code sends (tests and benchmarks use it to
prove that a request's statement count does not grow with its page size)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

_VERBS = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        query = record.args[0] if isinstance(record.args, tuple) and record.args else record.msg
        if isinstance(query, str) and query.lstrip().upper().startswith(_VERBS):
            self.statements.append(query)


@contextmanager
def count_statements() -> Iterator[list[str]]:
    """Yields a list that fills with every statement Tortoise sends inside the block."""
    logger = logging.getLogger("tortoise.db_client")
    handler = _Counter()
    previous_level, previous_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield handler.statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
        logger.propagate = previous_propagate
