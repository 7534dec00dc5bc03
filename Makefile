# The newcomer's path: `make demo` and `make test` on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench clean install browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Ends in the running service (Ctrl-C stops it); its database and workspace are in demo-output/.
DEMO_PORT ?= 8000
demo: $(STAMP)
	mkdir -p demo-output
	cd demo-output && $(abspath $(BIN))/corecustomers demo --out . --serve --port $(DEMO_PORT)

# The service's tests run twice: on SQLite (with everything else), then on PostgreSQL
# (the fault suite included). The stateful schemathesis run is derandomised, but what it
# reaches depends on the data it starts from: in a worker after other files (a
# transactional test's flush, the worker's shared workspace) it reached 6 operations by id
# instead of 12, so it runs in a fresh process of its own after each pass.
STATEFUL = tests/web/test_schemathesis_stateful.py
PG_TEST_DB ?= postgresql://postgres@127.0.0.1:5432/corecustomers
# Two pytest-xdist workers, each running one test file at a time (--dist loadfile: a file's
# own fixtures, databases and ports stay in one process). TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS) --dist loadfile)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(XDIST) --ignore $(STATEFUL)
	$(BIN)/python -m pytest -q -p no:xdist $(STATEFUL)
	CORECUSTOMERS_TEST_DB=$(PG_TEST_DB) $(BIN)/python -m pytest -q $(XDIST) tests/web -m "not browser" --ignore $(STATEFUL)
	CORECUSTOMERS_TEST_DB=$(PG_TEST_DB) $(BIN)/python -m pytest -q -p no:xdist $(STATEFUL)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q $(XDIST) -m "not spark and not browser and not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/deptry src

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
