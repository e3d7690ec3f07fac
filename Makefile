# Trade Nexus Console: `make run` starts the console, `make test` runs every test. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
export LANGSMITH_TRACING ?= false

.PHONY: run test setup lint audit chromium postgres redis bench clean

run: $(STAMP)
	$(BIN)/nexus serve --port $(PORT)

test: $(STAMP) node_modules/.installed chromium postgres redis
	@$(BIN)/ruff check . && echo "ruff: clean"
	@$(MAKE) --no-print-directory audit
	$(BIN)/python -m pytest -q -p no:cacheprovider

setup: $(STAMP) node_modules/.installed

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev,samples]'
	@touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian's Chromium for the browser tests (Playwright drives it; never `playwright install`).
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's redis-server: tests/scale starts throwaway ones (the shared job queue of several workers).
redis:
	@command -v redis-server >/dev/null || { \
	  echo "installing Debian redis-server for the multi-process tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

# The PostgreSQL server on 127.0.0.1:5432 that the integration tests use (TEST_DATABASE_URL to point elsewhere).
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { \
	  echo "PostgreSQL is not answering on 127.0.0.1:5432; trying to start it"; \
	  (command -v pg_ctlcluster >/dev/null && pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start) || true; \
	  for i in $$(seq 1 20); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done; \
	  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL could not be started: install it or set TEST_DATABASE_URL"; exit 1; }; }

# Known vulnerabilities in the pinned dependencies: printed, not fatal (a new advisory must not block CI).
audit: $(STAMP)
	@echo "pip-audit (dependencies pinned in requirements.lock):"
	@timeout 120 $(BIN)/pip-audit --progress-spinner off -r requirements.lock --no-deps --disable-pip 2>&1 | tail -n 25 || echo "pip-audit could not complete (registry unreachable?)"

bench: $(STAMP) node_modules/.installed
	$(BIN)/python bench/browse.py --rows 1000000
	$(BIN)/python bench/ingest.py --candles 500000

clean:
	rm -rf $(VENV) node_modules var
