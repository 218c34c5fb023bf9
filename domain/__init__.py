"""Billing logic, one package per bounded context. Never imports GraphQL."""
