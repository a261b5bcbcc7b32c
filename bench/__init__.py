"""Benchmarks of ctr: each prints its figures and records them in docs/benchmarks.md."""
