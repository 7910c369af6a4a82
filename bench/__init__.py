"""The benchmark suite (issue 7): every figure a ratio against what a user would use instead.

Run it with `make bench` (or `python bench/run.py`); see bench/run.py for the options.
Benchmarks are not tests: nothing here runs under `make test`.
"""
