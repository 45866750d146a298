"""Benchmarks: `make bench` or `python -m bench.bids`. See bench/README.md and docs/performance.md."""
