"""Benchmarks: `make bench` runs every module in this package that defines run()."""
