"""Tenants, API keys, roles and what each role may do."""
