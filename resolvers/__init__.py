"""Thin adapters: caller context -> one domain call -> schema type."""
