"""Validation cached by the document's text.

Strawberry's ValidationCache keys an lru_cache on the parsed document, and
graphql-core hashes a document by walking its whole tree, on every request: for
a small mutation that walk cost more than the validation it saved. The text the
client sent (with ParserCache, the same text is the same document) is a key
that hashes in constant time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strawberry.extensions.base_extension import SchemaExtension
from strawberry.schema.schema import validate_document

from schema.limits import repeated_fields

MAX_ENTRIES = 512
_validated: dict[tuple[Any, str, tuple[Any, ...]], list[Any]] = {}


def _validate(schema: Any, document: Any, rules: Any) -> list[Any]:
    # A document that would make validation itself quadratic is refused first.
    refused = repeated_fields(document)
    return [refused] if refused is not None else validate_document(schema, document, rules)


class ValidationByText(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        schema = ctx.schema._schema
        if ctx.query is None:  # a pre-parsed document: nothing to key on
            ctx.pre_execution_errors = _validate(schema, ctx.graphql_document, ctx.validation_rules)
            yield
            return
        key = (schema, ctx.query, tuple(ctx.validation_rules))
        errors = _validated.get(key)
        if errors is None:
            errors = _validate(schema, ctx.graphql_document, ctx.validation_rules)
            if len(_validated) >= MAX_ENTRIES:
                _validated.clear()
            _validated[key] = errors
        ctx.pre_execution_errors = errors
        yield
