# The two commands of the README: `make run` and `make test`. Each creates the
# environment in .venv/ when it is missing (or when the package's build inputs change).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CORES ?= all

.PHONY: run test test-all lint format data env bench mlflow-ui clean

env: $(STAMP)

$(STAMP): pyproject.toml setup.py advdiff/lbm/kernels/d2q9_cpu.c advdiff/lbm/kernels/d2q9_node.h \
		advdiff/fields/kernels/field_cpu.c
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## run: set up, fetch the default data, run the default workflow end to end
run: $(STAMP) data
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/snakemake --cores $(CORES) --snakefile Snakefile \
		--configfile config/config.yaml

## data: install the default dataset (Debian's dataset-fashion-mnist) where possible
data:
	bash workflow/scripts/install_fashion_mnist.sh

## test: lint, then the fast test suite (heavy and GPU tests are marked and skipped).
## Fetching the data may fail without root; the tests that need it then skip and say why.
test: $(STAMP) lint
	-@bash workflow/scripts/install_fashion_mnist.sh
	$(VENV)/bin/pytest -q

## test-all: everything, including tests marked slow (GPU tests still need a GPU)
test-all: $(STAMP) lint
	$(VENV)/bin/pytest -q -m "not gpu"

lint: $(STAMP)
	$(VENV)/bin/ruff check advdiff tests workflow/scripts setup.py
	$(VENV)/bin/ruff format --check advdiff tests workflow/scripts setup.py

format: $(STAMP)
	$(VENV)/bin/ruff format advdiff tests workflow/scripts setup.py
	$(VENV)/bin/ruff check --fix advdiff tests workflow/scripts setup.py

## bench: the LBM benchmark on this machine's CPU (record the result in BENCHMARKS.md)
bench: $(STAMP)
	$(VENV)/bin/advdiff bench lbm --backend cpu --json results/bench/lbm_cpu.json

clean:
	rm -rf $(VENV) build *.egg-info advdiff/lbm/*.so .pytest_cache .ruff_cache
