"""Persistence: Tortoise models, migrations and connection configuration.

Nothing here imports the layers above it (DESIGN.md: arrows only point down).
"""
