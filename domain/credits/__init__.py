"""Prepaid credits: wallets, lots, consumption rules, reservations and the ledger."""
