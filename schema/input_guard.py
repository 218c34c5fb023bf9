"""One gate for every argument value, before any resolver runs.

Text a database cannot store (a NUL character: PostgreSQL refuses it; a lone UTF-16
surrogate: it has no UTF-8 form), JSON nested deeper than anything billing needs or
holding integers past 64 bits (neither can be serialised back), strings longer than
any input needs, identifiers longer than any id, and an explicit `null` for a field
that only makes sense with a value all used to reach the resolvers and come back as
a masked "Unexpected error." (or were silently stored on SQLite). They are refused
here, once, for literals and variables alike, with a GraphQL error naming the
argument path (`extensions.code`, `extensions.field`) and HTTP 400, and nothing is
stored. Field-specific rules (a name's 200 characters, a metadata object's 50 keys)
stay in the domain, which reports them as `ValidationError` data.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    EnumValueNode,
    FloatValueNode,
    GraphQLError,
    GraphQLID,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    IntValueNode,
    ListValueNode,
    Node,
    NullValueNode,
    ObjectValueNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    ValueNode,
    VariableNode,
    Visitor,
    visit,
)
from strawberry.extensions.base_extension import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.schema.schema_converter import GraphQLCoreConverter

from schema.common import NOT_NULL

MAX_TEXT = 10_000  # characters in any one string; longer inputs are refused, never cut
MAX_ID = 128  # the longest identifier Tally issues or accepts (external ids)
MAX_DEPTH = 32  # nesting of lists and objects in one argument, JSON included
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Arguments (by name) that are looked up as stored keys: no stored key is longer (the
# database columns' widths), and a longer value made the lookup itself fail. Input
# fields that are stored get their exact limit from the domain, as ValidationError
# data; `couponCode` is the one input field that is only looked up.
KEY_LIMITS = {
    "code": 64,
    "couponCode": 64,
    "externalId": 128,
    "search": 128,
    "module": 32,
    "action": 64,
    "type": 64,
    "requestId": 128,
    "idempotencyKey": 255,
}
LOOKUP_INPUT_FIELDS = {"couponCode"}

_SITES_MAX = 512
_Site = tuple[str, GraphQLInputType, ValueNode]
_sites_cache: dict[tuple[int, str], tuple[GraphQLSchema, list[_Site]]] = {}


class InputRejected(GraphQLError):
    """A request-level refusal of one argument value, with a stable code and field."""

    def __init__(self, code: str, field: str, message: str, node: Node | None = None) -> None:
        super().__init__(
            f"{field}: {message}",
            nodes=[node] if node is not None else None,
            extensions={"code": code, "field": field},
        )


def _collect_sites(schema: GraphQLSchema, document: DocumentNode) -> list[_Site]:
    """Every argument of the document with its declared type: one linear walk of the
    AST (fragment definitions are walked once, never expanded per spread)."""
    type_info = TypeInfo(schema)
    sites: list[_Site] = []

    class Collector(Visitor):
        def enter_argument(self, node: Any, *_args: Any) -> None:
            argument = type_info.get_argument()
            if argument is not None:
                sites.append((node.name.value, argument.type, node.value))

    visit(document, TypeInfoVisitor(type_info, Collector()))
    return sites


def _sites(schema: GraphQLSchema, document: DocumentNode, text: str | None) -> list[_Site]:
    if text is None:
        return _collect_sites(schema, document)
    key = (id(schema), text)
    entry = _sites_cache.get(key)
    if entry is None or entry[0] is not schema:
        if len(_sites_cache) >= _SITES_MAX:
            _sites_cache.clear()
        entry = (schema, _collect_sites(schema, document))
        _sites_cache[key] = entry
    return entry[1]


def _unwrap(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _refuses_null(input_type: GraphQLInputObjectType, name: str) -> bool:
    field = input_type.fields.get(name)
    if field is None:
        return False
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return bool((getattr(definition, "metadata", None) or {}).get(NOT_NULL))


def _join(path: str, key: str) -> str:
    # A JSON key is the caller's text: name it, but never echo a long or unprintable one.
    shown = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in key[:40])
    return f"{path}.{shown}{'…' if len(key) > 40 else ''}"


class _Checker:
    def __init__(self, variables: dict[str, Any]) -> None:
        self.variables = variables
        self.seen: set[tuple[str, str | None, str]] = set()
        self.node: Node | None = None

    # -- leaves ------------------------------------------------------------------------
    def text(self, value: str, type_: Any, path: str, name: str | None = None) -> None:
        limit = KEY_LIMITS.get(name or "") or (MAX_ID if _unwrap(type_) is GraphQLID else MAX_TEXT)
        if len(value) > limit:
            raise InputRejected(
                "TEXT_TOO_LONG", path, f"is limited to {limit} characters", self.node
            )
        if "\x00" in value:
            raise InputRejected(
                "INVALID_TEXT", path, "text must not contain NUL (\\u0000) characters", self.node
            )
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise InputRejected(
                    "INVALID_TEXT",
                    path,
                    "text must not contain lone UTF-16 surrogates (not valid Unicode)",
                    self.node,
                ) from None

    def integer(self, value: int, path: str) -> None:
        if not INT64_MIN <= value <= INT64_MAX:
            raise InputRejected(
                "NUMBER_OUT_OF_RANGE", path, "integers are limited to 64 bits", self.node
            )

    def number(self, value: float, path: str) -> None:
        # Past 2^63 a JSON decoder may hand over a float for an integer the client sent
        # (orjson does): the same refusal, so the value is never stored rounded.
        if not math.isfinite(value) or not INT64_MIN <= value <= INT64_MAX:
            raise InputRejected(
                "NUMBER_OUT_OF_RANGE", path, "numbers are limited to the 64-bit range", self.node
            )

    def too_deep(self, path: str) -> InputRejected:
        return InputRejected(
            "TOO_DEEP", path, f"values are nested at most {MAX_DEPTH} levels deep", self.node
        )

    # -- values sent as variables (plain JSON) ---------------------------------------
    def raw(self, value: Any, type_: Any, path: str, depth: int, name: str | None) -> None:
        if isinstance(value, str):
            self.text(value, type_, path, name)
        elif isinstance(value, bool) or value is None:
            return
        elif isinstance(value, int):
            self.integer(value, path)
        elif isinstance(value, float):
            self.number(value, path)
        elif isinstance(value, list | dict):
            if depth >= MAX_DEPTH:
                raise self.too_deep(path)
            inner = _unwrap(type_)
            if isinstance(value, list):
                item_type = inner.of_type if isinstance(inner, GraphQLList) else inner
                for index, item in enumerate(value):
                    self.raw(item, item_type, f"{path}.{index}", depth + 1, name)
            elif isinstance(inner, GraphQLInputObjectType):
                for key, item in value.items():
                    field = inner.fields.get(key)
                    if item is None and _refuses_null(inner, key):
                        raise _null_refused(f"{path}.{key}", self.node)
                    field_type = field.type if field else None
                    lookup = key if key in LOOKUP_INPUT_FIELDS else None
                    self.raw(item, field_type, f"{path}.{key}", depth + 1, lookup)
            else:  # JSON: keys are text too
                for key, item in value.items():
                    self.text(str(key), None, _join(path, str(key)))
                    self.raw(item, None, _join(path, str(key)), depth + 1, None)

    # -- values written in the document ------------------------------------------------
    def literal(self, node: ValueNode, type_: Any, path: str, depth: int, name: str | None) -> None:
        if isinstance(node, VariableNode):
            # A variable is checked once per kind of use: the same value may be a page
            # cursor in one place and a lookup key with a tighter limit in another.
            variable = node.name.value
            use = (variable, name, str(type_))
            if variable in self.variables and use not in self.seen:
                self.seen.add(use)
                self.raw(self.variables[variable], type_, path, depth, name)
        elif isinstance(node, StringValueNode):
            self.text(node.value, type_, path, name)
        elif isinstance(node, IntValueNode):
            self.integer(int(node.value), path)
        elif isinstance(node, FloatValueNode):
            self.number(float(node.value), path)
        elif isinstance(node, NullValueNode | BooleanValueNode | EnumValueNode):
            return
        elif isinstance(node, ListValueNode | ObjectValueNode):
            if depth >= MAX_DEPTH:
                raise self.too_deep(path)
            inner = _unwrap(type_)
            if isinstance(node, ListValueNode):
                item_type = inner.of_type if isinstance(inner, GraphQLList) else inner
                for index, item in enumerate(node.values):
                    self.literal(item, item_type, f"{path}.{index}", depth + 1, name)
                return
            for field_node in node.fields:
                key = field_node.name.value
                if isinstance(inner, GraphQLInputObjectType):
                    field = inner.fields.get(key)
                    if isinstance(field_node.value, NullValueNode) and _refuses_null(inner, key):
                        raise _null_refused(f"{path}.{key}", self.node)
                    field_type = field.type if field else None
                    lookup = key if key in LOOKUP_INPUT_FIELDS else None
                    self.literal(field_node.value, field_type, f"{path}.{key}", depth + 1, lookup)
                else:
                    self.text(key, None, _join(path, key))
                    self.literal(field_node.value, None, _join(path, key), depth + 1, None)


def _null_refused(path: str, node: Node | None) -> InputRejected:
    return InputRejected(
        "NULL_NOT_ALLOWED", path, "must not be null; leave it out to keep the current value", node
    )


def check_arguments(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: dict[str, Any] | None,
    text: str | None = None,
) -> InputRejected | None:
    """The first argument value the gate refuses, or None."""
    checker = _Checker(variables if isinstance(variables, dict) else {})
    try:
        for name, type_, node in _sites(schema, document, text):
            checker.node = node
            checker.literal(node, type_, name, 0, name)
    except InputRejected as error:
        return error
    return None


class InputGuard(SchemaExtension):
    """Listed after the validation extensions: Strawberry decides whether to execute
    before the validation hooks exit, so the gate runs on entry, once the document
    is known to be valid (a document that failed validation is not walked)."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None:
            schema = ctx.schema._schema
            if ctx.pre_execution_errors is None:
                ctx.pre_execution_errors = validate_document(
                    schema, ctx.graphql_document, ctx.validation_rules
                )
            if not ctx.pre_execution_errors:
                error = check_arguments(schema, ctx.graphql_document, ctx.variables, ctx.query)
                if error is not None:
                    # A new list: the empty one there may be a cached validation result.
                    ctx.pre_execution_errors = [error]
        yield
