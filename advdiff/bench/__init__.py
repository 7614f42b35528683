"""Benchmarks behind ``advdiff bench …``: measured figures go to BENCHMARKS.md, never into timed tests."""
