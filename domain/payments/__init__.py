"""Payments: providers, collection, provider webhooks, dunning, refunds and disputes."""
