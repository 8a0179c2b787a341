# One entry point for people and CI. Every target installs what it needs from the lock first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements/lock.txt
LS_VENV := .venv-labelstudio
LS_LOCK := requirements/labelstudio.txt
UV_VERSION := 0.13.8
# REVIEW_BACKEND=labelstudio: `make demo`, `make stack` and `make airflow` also run a real local Label
# Studio (its own virtualenv, 127.0.0.1, a free port, SQLite) and review in it.
LS_NEEDED := $(if $(filter labelstudio,$(REVIEW_BACKEND)),labelstudio-venv)

# Airflow is compiled from source on every start when bytecode is off (this machine turns it off):
# keep bytecode in a git-ignored cache under the project instead.
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX := $(CURDIR)/.pycache

.PHONY: install test lint unit coverage demo stack parse-time bench advise advise-measure lock clean airflow \
	browser-deps test-browser test-faults \
	labelstudio-venv labelstudio-lock test-labelstudio test-labelstudio-browser labelstudio

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
	$(BIN)/python -m pytest --ignore=tests/unit --ignore=tests/browser --ignore=tests/labelstudio \
		--ignore=tests/faults/standalone

unit: install
	$(BIN)/python -m pytest tests/unit -q

# The pure domain modules are held to full line and branch coverage by their unit tests.
coverage: install
	$(BIN)/python -m pytest tests/unit -q --cov=plugins/hitl_detection/domain --cov-branch \
		--cov-report=term-missing --cov-fail-under=100

demo: install $(LS_NEEDED)
	$(BIN)/python scripts/demo.py $(if $(REVIEW_BACKEND),--review-backend $(REVIEW_BACKEND))

# With REVIEW_BACKEND=labelstudio, Label Studio runs beside the stand-in (its connection printed first)
# and scripted reviewers answer its tasks.
stack: install $(LS_NEEDED)
ifeq ($(REVIEW_BACKEND),labelstudio)
	$(BIN)/python -m local_labelstudio --aws-stack --aws-stack-args "$(STACK_ARGS)" --auto-review
else
	$(BIN)/python -m local_aws $(STACK_ARGS)
endif

# Airflow's UI on 127.0.0.1 (airflow standalone) with the stand-in wired in; Ctrl-C stops both.
# AIRFLOW_PORT=8080 for a fixed port (default: a free one).
airflow: install $(LS_NEEDED)
	$(BIN)/python scripts/airflow_local.py $(if $(AIRFLOW_PORT),--port $(AIRFLOW_PORT)) \
		$(if $(REVIEW_BACKEND),--review-backend $(REVIEW_BACKEND))

# Debian's chromium for the browser test (Playwright's own browser download cannot be used here).
browser-deps:
	@if [ -x /usr/bin/chromium ]; then /usr/bin/chromium --version; else \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) \
		apt-get install -y -qq --no-install-recommends chromium; fi

# Logs in to `make airflow`'s UI in headless chromium and triggers a run; screenshots in test-artifacts/.
test-browser: install browser-deps
	$(BIN)/python -m pytest tests/browser -m browser -s

# The faults only a real scheduler and triggerer meet, under `airflow standalone` with the stand-in: a
# task process killed with SIGKILL while it starts loops, a run cleared from the REST API, the triggerer
# killed during the wait (a few minutes; CI runs it after `make test`, which runs the rest of tests/faults).
test-faults: install
	$(BIN)/python -m pytest tests/faults/standalone

parse-time: install
	$(BIN)/python scripts/parse_time.py

# Per-label threshold advice from local results (default demo-output/; ADVISE_ARGS="runs/ --target-precision
# 0.98"): advice.json for the trigger form, advice.md and a plot per label in advice-output/.
advise: install
	$(BIN)/python scripts/advise_thresholds.py $(ADVISE_ARGS)

# The advisor measured on the stand-in's simulated detector: advice from a run over 1,000 generated images,
# review load and precision of what is accepted unreviewed on 1,000 others; report in advice-output/.
advise-measure: install
	$(BIN)/python scripts/advise_thresholds.py --measure $(ADVISE_ARGS)

# Detection speed against the endpoint's bound and a sequential loop in the blog's style, task
# instances, A2I calls and memory, on the stand-in; report in bench-output/bench.json. The default
# scenarios take a while (10,000 images among them); e.g. `make bench BENCH_ARGS="--scenario 1000:4"`.
bench: install
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

lock: install
	$(BIN)/uv pip compile --quiet --python-version 3.11 requirements/dev.in -o $(LOCK)

# Label Studio (the self-hosted review backend) pins packages that conflict with Airflow's: it lives
# in a virtualenv of its own, used only to run its server.
labelstudio-venv: $(LS_VENV)/.synced

$(LS_VENV)/.synced: $(LS_LOCK) | $(VENV)/.synced
	test -x $(LS_VENV)/bin/python || $(BIN)/uv venv --quiet --python $(BIN)/python $(LS_VENV)
	$(BIN)/uv pip sync --quiet --python $(LS_VENV)/bin/python $(LS_LOCK)
	touch $@

labelstudio-lock: install
	$(BIN)/uv pip compile --quiet --python-version 3.11 requirements/labelstudio.in -o $(LS_LOCK)

# The Label Studio hook, review backend and end-to-end DAG runs against a real Label Studio (started once
# for the session, ~1 min) and the local stand-in for AWS.
test-labelstudio: install labelstudio-venv
	$(BIN)/python -m pytest tests/labelstudio -m "labelstudio and not browser"

# A reviewer in Label Studio's own UI, in headless chromium, during a real detect_and_review run:
# moves a model box and draws a missing one; screenshots in test-artifacts/browser/labelstudio/.
test-labelstudio-browser: install labelstudio-venv browser-deps
	$(BIN)/python -m pytest tests/labelstudio/test_review_in_the_browser.py -m "labelstudio and browser"

# A local Label Studio in the foreground; Ctrl-C stops it. LABEL_STUDIO_PORT=8081 for a fixed port,
# LABEL_STUDIO_DATA_DIR=.labelstudio-data to keep projects across starts (default: a temporary dir).
labelstudio: install labelstudio-venv
	$(BIN)/python -m local_labelstudio $(if $(LABEL_STUDIO_PORT),--port $(LABEL_STUDIO_PORT)) \
		$(if $(LABEL_STUDIO_DATA_DIR),--data-dir $(LABEL_STUDIO_DATA_DIR))

clean:
	rm -rf $(VENV) $(LS_VENV) .pycache .pytest_cache .ruff_cache .hypothesis .coverage demo-output bench-output advice-output test-artifacts
