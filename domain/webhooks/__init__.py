"""Outbound webhooks for partners: a transactional outbox, endpoints, signed
delivery with retries (Standard Webhooks)."""
