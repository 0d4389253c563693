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

.PHONY: install home run test test-fast demo lint format bench clean \
	review review-specs specs-changed specs-all image-tags lint-workflows terraform-check

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
MLFLOW_PORT ?= 5000
## The spec folder `make run` loads (re-read on every Deployment > Reload in the UI).
RUN_SPECS ?= $(CURDIR)/specs

## Start the Dagster UI and daemon on http://$(HOST):$(PORT), the MLflow UI on
## http://127.0.0.1:$(MLFLOW_PORT) and the metrics exporter on
## http://127.0.0.1:$(EXPORTER_PORT)/metrics; the demo spec materializes itself.
## Ctrl+C (or SIGTERM) stops every process it started (mlops_assets/devloop).
run: install home
	@exec $(BIN)/mlops dev --host $(HOST) --port $(PORT) --mlflow-port $(MLFLOW_PORT) \
		--exporter-port $(EXPORTER_PORT) --specs $(RUN_SPECS) --workspace workspace.yaml

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

## --- Delivery (docs/delivery.md) -------------------------------------------------
## Spec folders besides the built-in one (MLOPS_SPECS_PATH of the reviews); the
## reviews look for changed specs in mlops_assets/specs/builtin and these.
SPEC_DIRS ?= specs
SPEC_SOURCES = mlops_assets/specs/builtin $(SPEC_DIRS)
empty :=
space := $(empty) $(empty)
REVIEW_SPECS_PATH = $(subst $(space),:,$(strip $(wildcard $(SPEC_DIRS))))
REVIEW_DIR ?= .ci/cache/review
SAMPLE ?= 0.2
BASE ?=
REVIEW_MD ?=

## `mlops review` of one spec: make review SPEC=name [BASE=git-ref] [SAMPLE=0.2] [REVIEW_MD=file]
review: install
	@test -n "$(SPEC)" || { echo "make review: set SPEC=<spec name>" >&2; exit 2; }
	@mkdir -p "$(dir $(or $(REVIEW_MD),$(REVIEW_DIR)/$(SPEC).md))"
	MLOPS_SPECS_PATH="$(REVIEW_SPECS_PATH)" $(BIN)/mlops review --spec "$(SPEC)" $(if $(BASE),--base "$(BASE)") --sample "$(SAMPLE)" --markdown "$(or $(REVIEW_MD),$(REVIEW_DIR)/$(SPEC).md)"

## Several reviews joined into one report (the pull-request comment):
## make review-specs SPECS="a b" [BASE=git-ref] [SAMPLE=0.2] [REVIEW_MD=file]
review-specs: install
	@test -n "$(SPECS)" || { echo "make review-specs: set SPECS=\"<spec> ...\"" >&2; exit 2; }
	$(BIN)/python .ci/review/review_specs.py --out "$(or $(REVIEW_MD),$(REVIEW_DIR)/review.md)" --base "$(BASE)" --sample "$(SAMPLE)" $(SPECS)

## Names of the specs whose file changed since BASE: make specs-changed BASE=origin/main
specs-changed: install
	@test -n "$(BASE)" || { echo "make specs-changed: set BASE=<git ref>" >&2; exit 2; }
	@$(BIN)/python .ci/review/spec_names.py changed --base "$(BASE)" $(SPEC_SOURCES)

## Names of every spec in the spec folders.
specs-all: install
	@$(BIN)/python .ci/review/spec_names.py all $(SPEC_SOURCES)

## Tags of the project image for this commit (REGISTRY and IMAGE_NAME must be set).
image-tags:
	@bash .ci/image-tags

## actionlint on .github/workflows (shellcheck and pyflakes off: run: steps only call make).
lint-workflows: install
	$(BIN)/actionlint -shellcheck= -pyflakes=

## checkov on deploy/terraform, from its own locked venv under .ci/cache/.
terraform-check: install
	@checkov="$$(bash .ci/tools/install-checkov)" && "$$checkov" -d deploy/terraform --framework terraform --quiet --compact --skip-download

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
