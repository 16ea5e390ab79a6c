"""Benchmarks: run on demand (`make bench`), printing figures; never part of the test suite."""
