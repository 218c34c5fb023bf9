"""Depth, alias and size limits as validation rules, each fragment measured once.

Strawberry's QueryDepthLimiter and MaxAliasesLimiter walk a fragment every time it
is spread, without memoisation: a ~900-byte document whose fragments each spread
the previous one twice costs 2^N steps and froze the whole server (one event loop)
for minutes. Here each fragment is measured once (its height, aliases and expanded
field count), uses add the memoised figures, and a document whose expanded
selection exceeds MAX_EXPANDED_FIELDS is refused: the work is linear in the size of
the document whatever its fragments do.

The rule classes are built once per process: extensions are instantiated per
request, and ValidationCache (keyed by the rule classes) would otherwise never hit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
)
from strawberry.extensions import AddValidationRules

# Selections a document may expand to once every fragment spread is replaced by its
# fragment; above any hand-written document (the token limit allows about 5,000).
MAX_EXPANDED_FIELDS = 10_000
# The same response name selected more often than this in one selection set. graphql-
# core's OverlappingFieldsCanBeMerged compares every pair of such fields: 1,200 copies
# of `viewer { role }` (19 KB, under the token limit) took over a second to validate.
MAX_SAME_NAME = 20


@dataclass(frozen=True)
class Cost:
    height: int  # fields with a selection set on the longest path (introspection aside)
    aliases: int
    fields: int  # field selections once fragments are expanded (capped, see _cap)


ZERO = Cost(0, 0, 0)


@dataclass(frozen=True)
class Measurement:
    operations: dict[str, Cost]
    steps: int  # selections visited: the work done, linear in the document's size


class _Measurer:
    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.memo: dict[str, Cost] = {}
        self.steps = 0

    def _cap(self, n: int) -> int:
        # Past the limit the exact figure does not matter; capping keeps the integers
        # small even when a document multiplies them exponentially.
        return min(n, MAX_EXPANDED_FIELDS + 1)

    def _spreads(self, node: SelectionSetNode | None, found: set[str]) -> None:
        if node is None:
            return
        for selection in node.selections:
            self.steps += 1
            if isinstance(selection, FragmentSpreadNode):
                found.add(selection.name.value)
            else:
                self._spreads(selection.selection_set, found)  # type: ignore[union-attr]

    def _resolve(self, name: str) -> None:
        """Measures `name` and every fragment it spreads, dependencies first, with an
        explicit stack (a chain of hundreds of fragments must not hit the recursion
        limit). A spread that closes a cycle counts as empty: NoFragmentCycles
        reports the cycle itself."""
        stack = [name]
        started: set[str] = set()
        while stack:
            current = stack[-1]
            if current in self.memo:
                stack.pop()
                continue
            if current not in started:
                started.add(current)
                found: set[str] = set()
                self._spreads(self.fragments[current].selection_set, found)
                stack.extend(
                    n
                    for n in found
                    if n in self.fragments and n not in self.memo and n not in started
                )
                continue
            self.memo[current] = self._walk(self.fragments[current].selection_set)
            stack.pop()

    def fragment(self, name: str) -> Cost:
        if name not in self.fragments:
            return ZERO  # KnownFragmentNames reports it
        if name not in self.memo:
            self._resolve(name)
        return self.memo.get(name, ZERO)

    def _walk(self, node: SelectionSetNode | None) -> Cost:
        """Cost of one selection set; fragments it spreads are already measured (or
        part of a cycle). Nesting within one definition is bounded by the parser."""
        if node is None:
            return ZERO
        height = aliases = fields = 0
        for selection in node.selections:
            self.steps += 1
            if isinstance(selection, FieldNode):
                aliases += 1 if selection.alias else 0
                fields += 1
                if selection.selection_set is not None:
                    child = self._walk(selection.selection_set)
                    aliases, fields = aliases + child.aliases, fields + child.fields
                    if not selection.name.value.startswith("__"):
                        height = max(height, 1 + child.height)
            elif isinstance(selection, InlineFragmentNode):
                child = self._walk(selection.selection_set)
                height = max(height, child.height)
                aliases, fields = aliases + child.aliases, fields + child.fields
            elif isinstance(selection, FragmentSpreadNode):
                child = self.memo.get(selection.name.value, ZERO)
                height = max(height, child.height)
                aliases, fields = aliases + child.aliases, fields + child.fields
        return Cost(height, self._cap(aliases), self._cap(fields))

    def operation(self, node: OperationDefinitionNode) -> Cost:
        names: set[str] = set()
        self._spreads(node.selection_set, names)
        for name in names:
            self.fragment(name)
        return self._walk(node.selection_set)


def measure(document: DocumentNode) -> Measurement:
    """Height, aliases and expanded fields of every operation of a document."""
    measurer = _Measurer(document)
    operations = {
        (d.name.value if d.name else "anonymous"): measurer.operation(d)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    }
    return Measurement(operations, measurer.steps)


def repeated_fields(document: DocumentNode) -> GraphQLError | None:
    """Refuse, before validation, a selection set that names one field more than
    MAX_SAME_NAME times (linear in the document; validation would be quadratic)."""
    todo = [
        d.selection_set
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while todo:
        selection_set = todo.pop()
        seen: dict[str, int] = {}
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = (selection.alias or selection.name).value
                seen[name] = seen.get(name, 0) + 1
                if seen[name] > MAX_SAME_NAME:
                    return GraphQLError(
                        f"'{name}' is selected more than {MAX_SAME_NAME} times in one "
                        "selection set",
                        extensions={"code": "QUERY_TOO_LARGE"},
                    )
            if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                todo.append(selection.selection_set)
    return None


def _limits_rule(max_depth: int, max_aliases: int) -> type[ASTValidationRule]:
    class QueryLimitsRule(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            measured = measure(context.document)
            total_aliases = 0
            for name, cost in measured.operations.items():
                total_aliases += cost.aliases
                if cost.height > max_depth:
                    context.report_error(
                        GraphQLError(
                            f"'{name}' exceeds maximum operation depth of {max_depth}",
                            extensions={"code": "QUERY_TOO_DEEP"},
                        )
                    )
                if cost.fields > MAX_EXPANDED_FIELDS:
                    context.report_error(
                        GraphQLError(
                            f"'{name}' selects more than {MAX_EXPANDED_FIELDS} fields once "
                            "its fragments are expanded",
                            extensions={"code": "QUERY_TOO_LARGE"},
                        )
                    )
            if total_aliases > max_aliases:
                shown = f"{total_aliases}" if total_aliases <= MAX_EXPANDED_FIELDS else "Too many"
                context.report_error(
                    GraphQLError(
                        f"{shown} aliases found. Allowed: {max_aliases}",
                        extensions={"code": "TOO_MANY_ALIASES"},
                    )
                )

    return QueryLimitsRule


@lru_cache(maxsize=8)
def _rules(max_depth: int, max_aliases: int) -> tuple[type[ASTValidationRule], ...]:
    return (_limits_rule(max_depth, max_aliases),)


def limits(max_depth: int, max_aliases: int) -> type[AddValidationRules]:
    rules = list(_rules(max_depth, max_aliases))

    class QueryLimits(AddValidationRules):
        def __init__(self) -> None:
            super().__init__(rules)

    return QueryLimits
