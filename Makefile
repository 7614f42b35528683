# The two commands of the README: `make run` and `make test`. Each creates the
# environment in .venv/ when it is missing (or when the package's build inputs change).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CORES ?= all
MEM_MB ?=
MLFLOW_PORT ?= 5000
CONFIGS ?=
# The workflow's settings (rerun-incomplete, the 7 GB memory cap, printed commands) are in its
# default profile; MEM_MB=... overrides the memory cap.
# (--configfile takes several files, so it comes before the flags that end a target list.)
SNAKEMAKE = PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/snakemake --workflow-profile workflow/profiles/default \
	--configfile config/config.yaml $(CONFIGS) --cores $(CORES) --snakefile Snakefile \
	$(if $(MEM_MB),--resources mem_mb=$(MEM_MB))

.PHONY: run study gpu-check publish test test-workflow test-heavy test-all test-ui test-slurm lint format data env bench mlflow-ui report clean

env: $(STAMP)

$(STAMP): pyproject.toml setup.py advdiff/lbm/kernels/d2q9_cpu.c advdiff/lbm/kernels/d2q9_node.h \
		advdiff/fields/kernels/field_cpu.c
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-cache-dir -e '.[dev]'
	@touch $(STAMP)

## run: set up, fetch the default data, run the default workflow end to end (sweep included); its last
## job publishes results/reports/ into reports/, after every record and MLflow run is written.
## A run that was killed continues: finished jobs are kept, an interrupted training resumes its checkpoint.
run: $(STAMP) data
	$(SNAKEMAKE)

## study: the Fashion-MNIST study of config/study.yaml (about 3 h on 2 cores): seeds, intervals, paired
## differences; writes reports/study_fashion_mnist.md. Resumable: a killed study continues where it stopped.
study: CONFIGS = config/study.yaml
study: $(STAMP) data
	$(SNAKEMAKE) study

## publish: copy the reports built under results/reports/ into the tracked reports/ (runs what is missing first)
publish: $(STAMP)
	$(SNAKEMAKE) publish

## mlflow-ui: browse the sweep's runs (the workflow's default SQLite store) at http://127.0.0.1:$(MLFLOW_PORT)
mlflow-ui: $(STAMP)
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(VENV)/bin/mlflow ui --host 127.0.0.1 --port $(MLFLOW_PORT) \
		--backend-store-uri sqlite:///$(CURDIR)/results/mlflow/mlflow.db \
		--default-artifact-root $(CURDIR)/results/mlflow/artifacts

## report: Snakemake's self-contained HTML report of the last `make run` (figures, tables, captions, benchmarks)
report: $(STAMP)
	$(SNAKEMAKE) --report reports/workflow.html

## data: install the default dataset (Debian's dataset-fashion-mnist) where possible
data:
	bash workflow/scripts/install_fashion_mnist.sh

## test: lint, then the fast default selection (about 5 min on 2 cores): the tests marked slow, workflow, kill,
## browser, slurm or gpu are left out (pyproject.toml); `make test-heavy` and `make test-slurm` run them.
## Fetching the data may fail without root; the tests that need it then skip and say why.
test: $(STAMP) lint
	-@bash workflow/scripts/install_fashion_mnist.sh
	$(VENV)/bin/pytest -q --durations=15

## test-workflow: the tests that start Snakemake (marker workflow), the kill-and-resume one (marker kill) included
test-workflow: $(STAMP)
	-@bash workflow/scripts/install_fashion_mnist.sh
	$(VENV)/bin/pytest -q --durations=15 -m "workflow and not slurm and not gpu"

## test-heavy: everything the default leaves out but the SLURM and GPU tests: workflow, kill, slow and browser,
## in one session (one smoke sweep serves them all; browser tests skip without Chromium). CI runs it after `make test`.
test-heavy: $(STAMP)
	-@bash workflow/scripts/install_fashion_mnist.sh
	$(VENV)/bin/pytest -q --durations=30 -m "(slow or workflow or kill or browser) and not slurm and not gpu"

## test-all: the default and the heavy tests in one run (the SLURM test skips without a cluster; GPU tests need a GPU)
test-all: $(STAMP) lint
	-@bash workflow/scripts/install_fashion_mnist.sh
	$(VENV)/bin/pytest -q -m "not gpu"

## test-ui: the MLflow UI in headless Chromium after a smoke sweep (installs chromium and chromium-driver
## as root when missing; without them, or without the data, the test skips and says why)
test-ui: $(STAMP)
	-@bash workflow/scripts/install_fashion_mnist.sh
	-@bash workflow/scripts/install_browser.sh
	$(VENV)/bin/pytest -q -m browser tests/workflow/test_mlflow_ui.py

## test-slurm: the smoke sweep through workflow/profiles/slurm on a one-node SLURM cluster with accounting,
## started for the test and stopped after it (workflow/scripts/slurm_cluster.sh: installs slurm-wlm, munge,
## slurmdbd and mariadb-server as root when missing; without them the test skips and says why)
test-slurm: $(STAMP)
	-@bash workflow/scripts/install_fashion_mnist.sh
	@bash workflow/scripts/slurm_cluster.sh start || echo "test-slurm: no cluster; the SLURM test will skip"
	$(VENV)/bin/pytest -q -m slurm tests/workflow/test_slurm.py; rc=$$?; \
		bash workflow/scripts/slurm_cluster.sh stop; exit $$rc

lint: $(STAMP)
	$(VENV)/bin/ruff check advdiff tests workflow/scripts setup.py
	$(VENV)/bin/ruff format --check advdiff tests workflow/scripts setup.py
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules

format: $(STAMP)
	$(VENV)/bin/ruff format advdiff tests workflow/scripts setup.py
	$(VENV)/bin/ruff check --fix advdiff tests workflow/scripts setup.py
	$(VENV)/bin/snakefmt Snakefile workflow/rules

## gpu-check: on a machine with an NVIDIA GPU and CuPy: LBM parity and roofline, 100 bf16 training steps of the
## paper's network, sampling, projected GPU-hours of config/paper.yaml -> results/gpu_check.json (under 10 min)
gpu-check: $(STAMP)
	$(VENV)/bin/advdiff gpu-check --json results/gpu_check.json

## bench: the LBM benchmark on this machine's CPU (record the result in BENCHMARKS.md)
bench: $(STAMP)
	$(VENV)/bin/advdiff bench lbm --backend cpu --json results/bench/lbm_cpu.json

clean:
	rm -rf $(VENV) build *.egg-info advdiff/lbm/*.so .pytest_cache .ruff_cache
