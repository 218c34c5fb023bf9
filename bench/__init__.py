"""Benchmarks: each measures Tally and a baseline doing the same work in the same run."""
