"""Benchmarks that print ratios measured in one run against a limit on the same machine."""
