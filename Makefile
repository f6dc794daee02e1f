# The two set-up commands: `make serve` and `make test`. Both install what they need first: `make serve` only what
# the server runs on (`pip install -e .`), `make test` the dev tools besides (`pip install -e '.[dev]'`).
# `make test-fast` is the quick suite: without the tests marked slow (crash recovery, concurrency, memory plateaus)
# or serial (bounds that need the machine alone), on SQLite (BATON_TEST_STORES=postgres for the other store).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install install-server node-client browser serve test test-fast screenshots lint bench
NODE_CLIENT := tests/node/node_modules/.installed

install-server: $(VENV)/.installed-server

install: $(VENV)/.installed

define new_venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
endef

$(VENV)/.installed-server: pyproject.toml
	$(new_venv)
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The dev tools with the server's own dependencies in one pip run (one editable build, one resolution): what
# `make serve` needs is then in place too.
$(VENV)/.installed: pyproject.toml
	$(new_venv)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed-server $@

# The official JavaScript client that tests/sdk/test_node_client.py drives: installed from the lock file,
# again only when the lock file changed.
node-client: $(NODE_CLIENT)

$(NODE_CLIENT): tests/node/package.json tests/node/package-lock.json
	cd tests/node && npm ci --no-audit --no-fund
	touch $@

# The dashboard's browser tests (tests/dashboard/) drive Debian's Chromium, as its headless shell, through
# Playwright (pinned in the dev extras, told where the browser is: no browser is downloaded). Installed once, when
# it is missing.
browser:
	test -x /usr/bin/chromium-headless-shell || (apt-get update -qq && apt-get install -y -qq chromium-headless-shell)

serve: install-server
	$(BIN)/baton serve --examples

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install node-client browser lint
	bash scripts/ensure-postgres
	bash scripts/run-tests $(BIN)/pytest

test-fast: install node-client browser
	bash scripts/ensure-postgres
	bash scripts/run-tests --quick $(BIN)/pytest

# The README's pictures of the dashboard, taken by its browser tests into docs/screenshots/ (a plain test run
# takes none, leaving the tree as it was).
screenshots: install browser
	bash scripts/ensure-postgres
	BATON_SCREENSHOTS=1 $(BIN)/pytest tests/dashboard -n 2 -q

bench: install
	bash scripts/ensure-postgres
	$(BIN)/python bench/run.py
