"""Strawberry types, inputs, enums, scalars and errors; `build_schema` assembles them."""

from schema.root import build_schema

__all__ = ["build_schema"]
