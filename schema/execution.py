"""A faster path through graphql-core for the commonest field of all: a plain
attribute holding a scalar or enum (`code`, `amountMinor`, `status` …).

graphql-core builds a ResolveInfo, checks arguments, dispatches `complete_value` and
tests for awaitables on every field; for an attribute read that is most of the cost
of a large list. Fields that qualify (Strawberry's own default resolver, no
arguments, a leaf return type) are read and serialised directly; anything else —
and any value that is missing or fails to serialise — takes graphql-core's normal
path, so errors and nulls are reported exactly as before.
"""

from __future__ import annotations

import asyncio
from types import CoroutineType
from typing import Any

from graphql import GraphQLField, GraphQLNonNull, is_leaf_type
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

_NOT_FAST = object()
# id(field) -> (field, decision). The field is kept in the entry so its id can never
# be reused by another schema's field while the entry exists.
_leaf_cache: dict[int, tuple[GraphQLField, Any]] = {}


def _fast_leaf(field_def: GraphQLField) -> Any:
    """(attribute name, leaf type) to read and serialise with, or _NOT_FAST; decided
    once per field."""
    entry = _leaf_cache.get(id(field_def))
    if entry is not None and entry[0] is field_def:
        return entry[1]
    cached = _NOT_FAST
    resolve = field_def.resolve
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if (
        resolve is not None
        and getattr(resolve, "_is_default", False)
        and not field_def.args
        and definition is not None
        and definition.default_resolver is getattr
    ):
        leaf = field_def.type
        if isinstance(leaf, GraphQLNonNull):
            leaf = leaf.of_type
        if is_leaf_type(leaf):
            cached = (definition.python_name, leaf)
    _leaf_cache[id(field_def)] = (field_def, cached)
    return cached


def _is_awaitable(value: Any) -> bool:
    """Rows from the ORM define `__await__` (Tortoise's lazy loading), so graphql-core's
    duck typing would schedule and await a coroutine for every row of a page.
    Resolvers here return coroutines, futures (DataLoaders) or plain values, and
    only those are awaited."""
    return isinstance(value, CoroutineType | asyncio.Future)


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Strawberry always passes a MiddlewareManager; it is empty unless an
        # extension hooks every resolver, and only then must every field go through it.
        manager = self.middleware_manager
        self._no_middleware = manager is None or not manager._middleware_resolvers
        self.is_awaitable = _is_awaitable

    def execute_field(
        self,
        parent_type: Any,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        if not node.arguments and self._no_middleware:
            field_def = self.schema.get_field(parent_type, node.name.value)
            if field_def is not None:
                fast = _fast_leaf(field_def)
                if fast is not _NOT_FAST:
                    try:
                        value = getattr(source, fast[0])
                        if value is not None:
                            serialized = fast[1].serialize(value)
                            if serialized is not None:
                                return serialized
                    except Exception:
                        pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def execute_fields(
        self,
        parent_type: Any,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        # An object whose selected fields are all plain leaves (a Money in a price
        # list) is built in one tight loop; a null where none is allowed, or any
        # surprise, goes back to graphql-core, which reports it with its path.
        plan = self._leaf_plan(parent_type, grouped_field_set)
        if plan is not None:
            out: dict[str, Any] = {}
            try:
                for response_name, attribute, leaf, nullable in plan:
                    value = getattr(source_value, attribute)
                    if value is None:
                        if not nullable:
                            break
                        out[response_name] = None
                        continue
                    serialized = leaf.serialize(value)
                    if serialized is None:
                        break
                    out[response_name] = serialized
                else:
                    return out
            except Exception:
                pass
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def _leaf_plan(self, parent_type: Any, grouped_field_set: Any) -> Any:
        plans = self.__dict__.setdefault("_leaf_plans", {})
        key = id(grouped_field_set)
        entry = plans.get(key)
        if entry is None:
            entry = (grouped_field_set, self._build_leaf_plan(parent_type, grouped_field_set))
            plans[key] = entry  # holds the set itself, so its id cannot be reused
        return entry[1]

    def _build_leaf_plan(self, parent_type: Any, grouped_field_set: Any) -> Any:
        if not self._no_middleware:
            return None
        plan = []
        for response_name, field_details_list in grouped_field_set.items():
            node = field_details_list[0].node
            if node.arguments or len(field_details_list) != 1:
                return None
            field_def = self.schema.get_field(parent_type, node.name.value)
            fast = _NOT_FAST if field_def is None else _fast_leaf(field_def)
            if fast is _NOT_FAST:
                return None
            nullable = not isinstance(field_def.type, GraphQLNonNull)
            plan.append((response_name, fast[0], fast[1], nullable))
        return tuple(plan)
