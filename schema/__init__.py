"""Strawberry types, inputs, enums, scalars and errors. Deliberately empty: the
schema is assembled in `api/schema.py`, the only module that binds resolvers."""
