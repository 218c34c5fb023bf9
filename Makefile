# The two commands: `make run` and `make test`. Only Python 3.11 and make are needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres
RESULTS := .test-results

.PHONY: run test test-sqlite test-postgres bench lint format clean lock

UV := $(VENV)/bin/uv
RUN_LOCK := requirements/run.txt
TEST_LOCK := requirements/test.txt
# NO_UV=1 installs with pip alone (the fallback, also taken when uv cannot be had).
NO_UV ?=

$(PY):
	$(PYTHON) -m venv $(VENV)

# uv, itself a hash-pinned wheel from PyPI (requirements/uv.txt), installs the lock in
# seconds; when it cannot be had, pip installs the same lock. Either way
# --require-hashes takes exactly the locked files, the build backend included, and
# Tally itself is built with it (no build isolation: nothing unpinned is fetched) and
# installed editable without dependencies: the lock has them.
$(UV): | $(PY)
	@if [ -z "$(NO_UV)" ]; then \
		$(PY) -m pip install -q --require-hashes -r requirements/uv.txt > $(VENV)/uv.log 2>&1 \
		|| echo "uv unavailable: installing with pip"; \
	fi

define install_lock
	@if [ -x $(UV) ] && [ -z "$(NO_UV)" ]; then \
		$(UV) pip install -q --python $(PY) --require-hashes -r $(1) \
		&& $(UV) pip install -q --python $(PY) --no-deps --no-build-isolation -e . ; \
	else \
		$(PY) -m pip install --require-hashes -r $(1) \
		&& $(PY) -m pip install --no-deps --no-build-isolation -e . ; \
	fi > $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
endef

$(VENV)/.run-deps: pyproject.toml $(RUN_LOCK) | $(UV)
	@echo "installing Tally into $(VENV) from $(RUN_LOCK)"
	$(call install_lock,$(RUN_LOCK))
	@touch $@

$(VENV)/.test-deps: pyproject.toml $(TEST_LOCK) | $(UV)
	@echo "installing Tally and its test tools into $(VENV) from $(TEST_LOCK)"
	$(call install_lock,$(TEST_LOCK))
	@touch $@ $(VENV)/.run-deps

# Re-resolve the lock from pyproject.toml's ranges (newest versions allowed), then run
# `make test` and commit pyproject.toml and requirements/ together.
lock: $(UV)
	$(PY) -m pip install -q packaging
	$(PY) requirements/lock.py refresh

run: $(VENV)/.run-deps
	$(PY) server.py migrate
	$(PY) server.py seed-demo
	$(PY) server.py serve

# SQLite always; PostgreSQL (and the Redis tests) when reachable. In CI (CI=true) the
# PostgreSQL pass is not optional: unreachable services fail the run instead of skipping.
test: $(VENV)/.test-deps
	@mkdir -p $(RESULTS)
	@echo "== import contracts (pyproject.toml [tool.importlinter]) =="
	$(VENV)/bin/lint-imports --no-cache
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
