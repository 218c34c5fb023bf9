"""What a client (and the log) is told about an error.

Unexpected errors are masked ("Unexpected error."); a database that cannot be reached
is said so, with the code DATABASE_UNAVAILABLE, so a client knows to retry (the HTTP
view answers 503); and no message echoes a long input back whole: graphql-core
quotes an offending literal in full (a 1 MB string argument came back in the error),
so messages are cut to MAX_MESSAGE characters, in responses and in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from domain.availability import database_unavailable

MAX_MESSAGE = 300
DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
DATABASE_MESSAGE = "The database is unavailable; retry shortly."


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_error(error: GraphQLError) -> GraphQLError:
    if len(error.message) <= MAX_MESSAGE:
        return error
    return GraphQLError(
        shorten(error.message),
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )


class ErrorPolicy(MaskErrors):
    def __init__(self, should_mask_error: Callable[[GraphQLError], bool]) -> None:
        super().__init__(should_mask_error=should_mask_error)

    def _process_result(self, result: object) -> None:
        # Strawberry's test is isinstance() of a runtime-checkable Protocol, which
        # costs more than the whole of a small result's masking (3 % of a server's
        # time in a live fan-out); a result has `errors` or it has none.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        out: list[GraphQLError] = []
        for error in errors:
            if not self.should_mask_error(error):
                out.append(short_error(error))  # a GraphQL or domain error says what it is
            elif database_unavailable(error.original_error):
                out.append(
                    GraphQLError(
                        DATABASE_MESSAGE,
                        nodes=error.nodes,
                        path=error.path,
                        extensions={"code": DATABASE_UNAVAILABLE},
                    )
                )
            else:
                out.append(self.anonymise_error(error))
        return out


class _ShortMessages(logging.Filter):
    """Strawberry logs every error with its message and the document excerpt before
    any extension sees it; the log gets the same cut as the client."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, GraphQLError):
            record.msg = shorten(str(record.msg), 2000)
        return True


logging.getLogger("strawberry.execution").addFilter(_ShortMessages())
