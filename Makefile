# Everything a fresh machine with Python 3.11 and make needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := 0.13.8
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
HOST ?= 127.0.0.1
PORT ?= 3000

.PHONY: install home run test test-fast demo lint format bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --locked --python $(BIN)/python
	@touch $@

home:
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

EXPORTER_PORT ?= 9108

## Start the webserver and daemon on http://$(HOST):$(PORT); the demo spec materializes itself.
## The metrics exporter serves http://127.0.0.1:$(EXPORTER_PORT)/metrics and stops with dagster dev.
run: install home
	@$(BIN)/mlops exporter --host 127.0.0.1 --port $(EXPORTER_PORT) & exporter=$$!; \
	trap 'kill $$exporter 2>/dev/null' EXIT INT TERM; \
	$(BIN)/dagster dev -h $(HOST) -p $(PORT) -w workspace.yaml

## Lint, then the whole test suite (slow end-to-end tests included), with every
## service it uses (PostgreSQL, Docker, Chromium, Prometheus) installed and started.
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	bash .ci/with-services $(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not slow"

## Materialize the default spec headless and print its JSON summary.
demo: install home
	$(BIN)/mlops run --spec flights --json

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

bench: install
	$(BIN)/python benchmarks/full_year.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
