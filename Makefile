# The two commands: `make run` and `make test`. Only Python 3.11 and make are needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres
RESULTS := .test-results

.PHONY: run test test-sqlite test-postgres bench lint format clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip

# pip's log goes to a file and is shown only if the install fails.
$(VENV)/.run-deps: pyproject.toml | $(PY)
	@echo "installing Tally into $(VENV)"
	@$(PY) -m pip install -e . > $(VENV)/pip.log 2>&1 || (cat $(VENV)/pip.log; exit 1)
	@touch $@

$(VENV)/.test-deps: pyproject.toml | $(PY)
	@echo "installing Tally and its test tools into $(VENV)"
	@$(PY) -m pip install -e '.[test]' > $(VENV)/pip.log 2>&1 || (cat $(VENV)/pip.log; exit 1)
	@touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	$(PY) server.py migrate
	$(PY) server.py seed-demo
	$(PY) server.py serve

# SQLite always; PostgreSQL (and the Redis tests) when reachable. In CI (CI=true) the
# PostgreSQL pass is not optional: unreachable services fail the run instead of skipping.
test: $(VENV)/.test-deps
	@mkdir -p $(RESULTS)
	@echo "== SQLite pass =="
	$(PY) -m pytest --junitxml=$(RESULTS)/sqlite.xml
	@if [ "$$CI" = "true" ] || $(PY) -c "import asyncio, asyncpg; asyncio.run(asyncpg.connect('$(PG_URL)'.replace('postgres://', 'postgresql://', 1), timeout=3))" 2>/dev/null; then \
		echo "== PostgreSQL pass =="; \
		TALLY_TEST_DB=postgres TEST_POSTGRES_URL=$(PG_URL) $(PY) -m pytest --junitxml=$(RESULTS)/postgres.xml; \
	else \
		echo "== PostgreSQL unreachable at $(PG_URL): PostgreSQL pass skipped =="; \
	fi

bench: $(VENV)/.test-deps
	$(PY) -m bench

lint: $(VENV)/.test-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.test-deps
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) $(RESULTS) .pytest_cache .ruff_cache .hypothesis *.egg-info
