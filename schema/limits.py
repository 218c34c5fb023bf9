"""Depth and alias limits as validation rules built once per process.

Strawberry's QueryDepthLimiter and MaxAliasesLimiter build a fresh rule class in
every instance, and extensions are instantiated per request, so ValidationCache
(keyed by the rule classes) would never hit and every request would be validated
again. Building the rule classes once keeps the cache effective."""

from __future__ import annotations

from functools import lru_cache

from graphql import ASTValidationRule
from strawberry.extensions import AddValidationRules
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule


@lru_cache(maxsize=8)
def _rules(max_depth: int, max_aliases: int) -> tuple[type[ASTValidationRule], ...]:
    return (depth_rule(max_depth, None), alias_rule(max_aliases))


def limits(max_depth: int, max_aliases: int) -> type[AddValidationRules]:
    rules = list(_rules(max_depth, max_aliases))

    class QueryLimits(AddValidationRules):
        def __init__(self) -> None:
            super().__init__(rules)

    return QueryLimits
