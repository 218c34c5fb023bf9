"""Persistence: Tortoise models, migrations and connection configuration.

Nothing here imports the layers above it (docs/ARCHITECTURE.md: imports only point
down).
"""
