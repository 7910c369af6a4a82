# The two commands (see README): `make demo` rehearses on the sandbox, `make test` runs every test.
PY ?= python3

.PHONY: install demo test lint bench

install:
	bash scripts/ensure-deps.sh
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'

demo: install
	bash scripts/demo.sh

lint:
	$(PY) -m ruff check cookcam_ops tests bench scripts
	$(PY) -m mypy

test: install lint
	$(PY) -m pytest -q

# Benchmarks (not tests): brings up its own sandbox, writes bench/RESULTS.md and results.json.
bench: install
	$(PY) bench/run.py $(BENCH_ARGS)
