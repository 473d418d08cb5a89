# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export FLASK_APP := wsgi

.PHONY: install run web worker test test-sqlite test-postgres lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Migrate, seed the demo on first run, and start web + worker on http://127.0.0.1:5000
run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask plans install-defaults
	$(BIN)/flask demo seed --if-empty
	@echo "Starting the worker and the web server on http://127.0.0.1:5000 (Ctrl-C stops both)"
	@trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/flask worker & worker=$$!; \
	$(BIN)/flask run --host 127.0.0.1 --port 5000

web: install
	$(BIN)/flask db upgrade
	$(BIN)/flask run --host 127.0.0.1 --port 5000

worker: install
	$(BIN)/flask worker

## The test suite on SQLite, then on PostgreSQL when TEST_DATABASE_URL is set
test: install lint test-sqlite test-postgres

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test-sqlite: install
	@echo "== test suite on SQLite"
	env -u TEST_DATABASE_URL $(BIN)/pytest -q

test-postgres: install
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== test suite on PostgreSQL ($$TEST_DATABASE_URL)"; \
		$(BIN)/pytest -q; \
	else \
		echo "== PostgreSQL half NOT run: set TEST_DATABASE_URL=postgresql://user@host:5432/db to run it"; \
	fi

bench: install
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
