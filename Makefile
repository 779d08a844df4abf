# One-command install, run and test. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 3000
export ASSET_PLATFORM_HOME ?= $(CURDIR)/.platform
export DAGSTER_HOME ?= $(ASSET_PLATFORM_HOME)/dagster
IMAGE ?= asset-platform:local
IMAGE_FLAGS ?=
# Two pytest workers: most tests use one core, waiting on daemons, servers and browsers (tests/conftest.py groups them).
TEST_WORKERS ?= 2

.PHONY: help install up demo-data baseline test lint viewer image clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints/lock.txt constraints/overrides.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints/lock.txt -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps -r constraints/overrides.txt
	touch $(STAMP)

install: $(STAMP)  ## Create .venv and install the platform (locked versions)

demo-data: install  ## Write the example models' demo history into their landing folders if empty
	$(BIN)/asset-platform generate --model ecommerce --if-missing
	$(BIN)/asset-platform generate --model deliveries --if-missing

# AUTH_USER, not AS: AS is one of make's built-in variables (the assembler, `as`), always set.
up: demo-data  ## Start Dagster (UI on http://$(HOST):$(PORT)), train each model's baseline on first start; with roles: AUTH=policy.yaml and AUTH_USER=you or AUTH_USERS=users.yaml
	$(BIN)/asset-platform up --host $(HOST) --port $(PORT) $(if $(AUTH),--auth $(AUTH)) $(if $(AUTH_USER),--single-user $(AUTH_USER)) $(if $(AUTH_USERS),--users-file $(AUTH_USERS))

test: install  ## Install, then run the whole test suite
	bash scripts/install-system-deps.sh
	bash scripts/docker-engine.sh start || echo "no Docker engine: the image tests will be skipped"
	status=0; $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder || status=$$?; bash scripts/docker-engine.sh stop; exit $$status

viewer: install  ## Serve the UI read-only on http://$(HOST):$(PORT): browse lineage, runs and metadata; launch nothing
	@test -f $(DAGSTER_HOME)/dagster.yaml || { echo "no Dagster instance at $(DAGSTER_HOME): run 'make up' (or 'asset-platform demo') first, or set ASSET_PLATFORM_HOME"; exit 1; }
	$(BIN)/dagster-webserver --read-only -w workspace.yaml -h $(HOST) -p $(PORT)

image:  ## Build the production image (IMAGE=name; IMAGE_FLAGS='--offline --local-base': no registry or index)
	bash scripts/build-image.sh -t $(IMAGE) $(IMAGE_FLAGS)

lint: install  ## ruff check and format check
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:  ## Delete the platform home (all local state: runs, data versions, remote)
	rm -rf $(ASSET_PLATFORM_HOME)
