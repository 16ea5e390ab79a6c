# The two commands of the README. Everything they need is installed here, from the project's own files.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install infra-start infra-stop bench chaos

UV := uv==0.13.9
# The lock is installed by uv: 28 s on a fresh clone where pip took 80-110 s (and CI starts from a fresh clone every
# time); pip installs it instead if uv cannot be had or fails. uv compiles the bytecode as pip does: without it, under
# PYTHONDONTWRITEBYTECODE (set on these machines) every service start compiled its libraries again, 5.5 s against 2.3,
# and a whole `make test` took 28 min against 24.
$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -m venv $(VENV)
	@{ $(BIN)/pip install -q --disable-pip-version-check $(UV) \
	   && $(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.lock \
	   && $(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e . ; } >$(VENV)/install.log 2>&1 \
	  || { $(BIN)/pip install -q --disable-pip-version-check -r requirements.lock \
	       && $(BIN)/pip install -q --disable-pip-version-check --no-deps -e . ; } >>$(VENV)/install.log 2>&1 \
	  || { cat $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

install: $(STAMP)

# The whole stack on local defaults, the demo world loaded; Ctrl-C stops all it started.
# Boards answer at once unless PARS_BOARD_LATENCY_SCALE says otherwise (1 = their configured latency), and
# rejection digests go out every minute unless PARS_DIGEST_SECONDS says otherwise (a day in production).
run: install
	@PARS_BOARD_LATENCY_SCALE=$${PARS_BOARD_LATENCY_SCALE:-0} PARS_DIGEST_SECONDS=$${PARS_DIGEST_SECONDS:-60} \
	  $(BIN)/pars stack run

# The whole suite against real Kafka and PostgreSQL (started by the tests' fixtures unless PARS_* are set). helm, for the
# chart's tests, is built from its Go module once (minutes cold) in the background while the suite runs; the chart's
# tests wait for it on deploy/local/helm.sh's lock, at the lowest CPU priority so that the tests come first. Two
# workers unless PARS_TEST_WORKERS=N (1: one process): the files that kill and restart servers and services run one
# after another on one worker (conftest.py, ONE_AT_A_TIME) and every other file is a unit either takes, the slowest
# first. A fresh clone: 17.9-27.1 min with two, 34.4 in one process (2026-12-03; docs/DESIGN-NOTES.md, "The test suite").
WORKERS := $(or $(PARS_TEST_WORKERS),2)
test: install
	@$(BIN)/ruff check .
	@$(BIN)/mypy
	@bash deploy/local/chromium.sh >/dev/null  # the browser tests' chromium, installed with apt when missing
	@mkdir -p .local && (nice -n 19 bash deploy/local/helm.sh >.local/helm-build.log 2>&1 &)  # chart tests' helm, built meanwhile
	@$(BIN)/python -m pytest $(if $(filter-out 1,$(WORKERS)),-n $(WORKERS) --dist loadfile --no-loadscope-reorder)

# ruff, then mypy (its files and strictness per module: [tool.mypy] in pyproject.toml).
lint: install
	@$(BIN)/ruff check .
	@$(BIN)/mypy

infra-start: install
	@bash deploy/local/infra.sh start

infra-stop:
	@bash deploy/local/infra.sh stop

# Benchmarks print figures: `make bench` (every figure of high-volume ingestion in one table, against the Kafka
# ceiling: docs/PERFORMANCE.md), `make bench BENCH=pipeline` (completions through the API with httpx),
# `BENCH=batches` (a 5,000-row xlsx until validated), `BENCH=queries` (record list queries), `BENCH=ceiling`,
# `BENCH=growth` (cost per record from 10,000 to 1,000,000 records in the projection; `BENCH="growth --max 100000"`).
bench: install
	@$(BIN)/python -m bench $(BENCH)

# The chaos suite at full size: a 20,000-record ingest in six rounds while services, Kafka and PostgreSQL (its own,
# in .local/chaos) are killed and brought back; prints a table of rounds and outcomes. Then the cluster's faults with
# a 20,000-record ingest through the leader's kill. `make test` runs both smaller.
chaos: install
	@PARS_CHAOS_RECORDS=$${PARS_CHAOS_RECORDS:-20000} PARS_CHAOS_ROUNDS=$${PARS_CHAOS_ROUNDS:-6} \
	  PARS_CLUSTER_RECORDS=$${PARS_CLUSTER_RECORDS:-20000} $(BIN)/python -m pytest tests/chaos tests/cluster
