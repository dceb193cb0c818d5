"""Benchmark support: the peer systems dedup is compared against (``dedup.bench.peers``)."""
