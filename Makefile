# See README: `make demo` rehearses on the sandbox; `make test` runs every test (`.ci/run` in CI),
# `make unit` the fast half (under a minute, no sandbox), `make e2e` the end-to-end half.
PY ?= python3

.PHONY: install demo test unit e2e lint bench

# Installs only what is missing: ensure-deps.sh checks the system's tools and tests/node's
# packages itself; pip runs only when scripts/pip-needed.py says the install is out of date.
install:
	bash scripts/ensure-deps.sh
	@if $(PY) scripts/pip-needed.py; then \
	  $(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'; fi

demo: install
	bash scripts/demo.sh

lint:
	$(PY) -m ruff check cookcam_ops tests bench scripts
	$(PY) -m ruff format --check cookcam_ops tests bench scripts
	$(PY) -m mypy

unit: install
	$(PY) -m pytest -q tests/unit

e2e: install
	$(PY) -m pytest -q tests/e2e

test: install lint
	$(PY) -m pytest -q tests/unit tests/e2e

# Benchmarks (not tests): brings up its own sandbox, writes bench/RESULTS.md and results.json.
bench: install
	$(PY) bench/run.py $(BENCH_ARGS)
