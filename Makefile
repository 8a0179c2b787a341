# One entry point for people and CI. Every target installs what it needs from the lock first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements/lock.txt
UV_VERSION := 0.13.8

# Airflow is compiled from source on every start when bytecode is off (this machine turns it off):
# keep bytecode in a git-ignored cache under the project instead.
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX := $(CURDIR)/.pycache

.PHONY: install test lint unit coverage demo stack parse-time benchmark lock clean airflow browser-deps test-browser

install: $(VENV)/.synced

$(VENV)/.synced: $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip sync --python $(BIN)/python $(LOCK)
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The unit tests run once, under coverage; everything else after them.
test: lint coverage
	$(BIN)/python -m pytest --ignore=tests/unit --ignore=tests/browser

unit: install
	$(BIN)/python -m pytest tests/unit -q

# The pure domain modules are held to full line and branch coverage by their unit tests.
coverage: install
	$(BIN)/python -m pytest tests/unit -q --cov=plugins/hitl_detection --cov-branch \
		--cov-report=term-missing --cov-fail-under=100

demo: install
	$(BIN)/python scripts/demo.py

stack: install
	$(BIN)/python -m local_aws $(STACK_ARGS)

# Airflow's UI on 127.0.0.1 (airflow standalone) with the stand-in wired in; Ctrl-C stops both.
# AIRFLOW_PORT=8080 for a fixed port (default: a free one).
airflow: install
	$(BIN)/python scripts/airflow_local.py $(if $(AIRFLOW_PORT),--port $(AIRFLOW_PORT))

# Debian's chromium for the browser test (Playwright's own browser download cannot be used here).
browser-deps:
	@if [ -x /usr/bin/chromium ]; then /usr/bin/chromium --version; else \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) \
		apt-get install -y -qq --no-install-recommends chromium; fi

# Logs in to `make airflow`'s UI in headless chromium and triggers a run; screenshots in test-artifacts/.
test-browser: install browser-deps
	$(BIN)/python -m pytest tests/browser -m browser -s

parse-time: install
	$(BIN)/python scripts/parse_time.py

# Speed and memory at scale, e.g. `make benchmark BENCH_ARGS="--images 1000 --latency 0.05"`.
benchmark: install
	$(BIN)/python scripts/benchmark.py $(BENCH_ARGS)

lock: install
	$(BIN)/uv pip compile --quiet --python-version 3.11 requirements/dev.in -o $(LOCK)

clean:
	rm -rf $(VENV) .pycache .pytest_cache .ruff_cache .hypothesis .coverage demo-output test-artifacts
