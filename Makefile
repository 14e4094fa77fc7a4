# appdock: `make run` serves a seeded demo, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export APPDOCK_DATA_DIR ?= var
NPM ?= npm
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test install dev lint typecheck contracts pytest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml sdk/pyproject.toml
	$(BIN)/pip install -q -e . -e sdk
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Front-end dependencies (atlassian-connect-js, jquery): exactly the lock file, no install scripts.
node_modules/.installed: package.json package-lock.json
	$(NPM) ci --ignore-scripts --no-audit --no-fund
	touch $@

# The atlassian-connect-express app the install tests run (tests/connect/ace), from its lock file;
# the only install script run is sqlite3's native build (the template's store; about 2 minutes).
ACE_APP := tests/connect/ace
$(ACE_APP)/node_modules/.installed: $(ACE_APP)/package.json $(ACE_APP)/package-lock.json
	cd $(ACE_APP) && $(NPM) ci --ignore-scripts --no-audit --no-fund && $(NPM) rebuild sqlite3
	touch $@

# The browser tests drive Debian's Chromium (Playwright never downloads a browser here).
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

install: $(VENV)/.installed node_modules/.installed

dev: $(VENV)/.dev-installed

# The demo also runs the example app (examples/hello_app) on EXAMPLE_PORT and installs it on the
# demo team: its panel is on the acme/widget overview.
EXAMPLE_PORT ?= 8001

# The public URL follows HOST and PORT unless set (links, iframe origins and app callbacks use it).
run: export APPDOCK_BASE_URL ?= http://$(HOST):$(PORT)
run: install
	$(BIN)/appdock db upgrade
	APPDOCK_ALLOW_PRIVATE_APP_URLS=loopback $(BIN)/appdock demo
	APPDOCK_ALLOW_PRIVATE_APP_URLS=loopback $(BIN)/appdock serve --host $(HOST) --port $(PORT) \
		--with-example-app --example-port $(EXAMPLE_PORT)

lint: dev
	$(BIN)/ruff check src tests benchmarks sdk examples
	$(BIN)/ruff format --check src tests benchmarks sdk examples

typecheck: dev
	$(BIN)/mypy

contracts: dev
	PYTHONPATH=src $(BIN)/lint-imports

pytest: dev node_modules/.installed $(ACE_APP)/node_modules/.installed $(CHROMIUM)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck contracts pytest

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
