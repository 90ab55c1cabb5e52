# Two commands for a newcomer: `make run` serves the shop, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP     := $(VENV)/.dev-installed
# The npm tools the tests drive (tools/package.json): mongosh applies database/mongo/schema.js by
# hand; axe-core checks every page's accessibility in the browser tests.
MONGOSH       := tools/node_modules/.bin/mongosh
# The machine's own PostgreSQL (15 here), used for a second integration pass when it answers.
SYSTEM_PG_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
# On that server, the PgBouncer pass runs every integration test; directly, only what a pooler
# cannot carry: backups and restores (a snapshot shared between sessions) and what a dropped
# server connection does to the shop when no pooler hides it.
SYSTEM_PG_DIRECT_TESTS := tests/integration/test_backup.py tests/integration/test_restore_failure_paths.py \
	tests/integration/test_odd_input_and_failing_servers.py \
	tests/integration/test_schema.py tests/integration/test_schema_by_hand.py

.PHONY: run test test-unit test-integration test-e2e test-system-pg test-pgbouncer lint lock audit-deps init-db translations clean-data

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements.txt requirements/production.txt requirements/embedded.txt | $(VENV)/bin/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt requirements/production.txt requirements/embedded.txt requirements/dev.txt | $(VENV)/bin/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(RUNTIME_STAMP)

$(MONGOSH): tools/package.json tools/package-lock.json
	npm ci --prefix tools --no-audit --no-fund --loglevel=error
	touch $@

## make run: start the databases (embedded unless DATABASE_URL/MONGODB_URL are set) and serve :5000
run: $(RUNTIME_STAMP)
	$(BIN)/python app/app.py

## make init-db: apply both schemas (and the demo data) without serving
init-db: $(RUNTIME_STAMP)
	$(BIN)/flask --app shop init-db --demo

## make test: lint, then every test in two lanes at once (scripts/test-in-two-lanes.sh): unit and
## browser tests, then directly on the machine's PostgreSQL the tests a pooler cannot carry
## (SYSTEM_PG_DIRECT_TESTS); beside them, integration (embedded PostgreSQL 18 + SecantusDB), then,
## when the machine's PostgreSQL answers, the integration tests again through PgBouncer in front of it.
test: $(DEV_STAMP)
	bash scripts/ensure-system-packages.sh
	$(MAKE) --no-print-directory $(MONGOSH)
	$(BIN)/ruff check .
	$(BIN)/mypy
	bash scripts/audit-dependencies.sh $(BIN)
	bash scripts/test-in-two-lanes.sh $(BIN) '$(SYSTEM_PG_URL)'

test-unit: $(DEV_STAMP)
	$(BIN)/pytest tests/unit

test-integration: $(DEV_STAMP) $(MONGOSH)
	$(BIN)/pytest tests/integration

test-e2e: $(DEV_STAMP)
	bash scripts/ensure-system-packages.sh
	$(MAKE) --no-print-directory $(MONGOSH)
	$(BIN)/pytest tests/e2e

test-system-pg: $(DEV_STAMP) $(MONGOSH)
	@if $(BIN)/python -c "import psycopg2,sys; psycopg2.connect('$(SYSTEM_PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== integration tests on $$($(BIN)/python -c "import psycopg2; c=psycopg2.connect('$(SYSTEM_PG_URL)'); cur=c.cursor(); cur.execute('SHOW server_version'); print('PostgreSQL', cur.fetchone()[0])") (system PostgreSQL) =="; \
		TEST_DATABASE_URL='$(SYSTEM_PG_URL)' $(BIN)/pytest $(SYSTEM_PG_DIRECT_TESTS); \
	else \
		echo "== no PostgreSQL at $(SYSTEM_PG_URL): second integration pass not run =="; \
	fi

## make test-pgbouncer: the integration tests through PgBouncer (transaction pooling) on the machine's PostgreSQL
test-pgbouncer: $(DEV_STAMP) $(MONGOSH)
	bash scripts/test-through-pgbouncer.sh $(BIN) '$(SYSTEM_PG_URL)'

## make audit-deps: known vulnerabilities in the installed packages (needs an advisory service online)
audit-deps: $(DEV_STAMP)
	bash scripts/audit-dependencies.sh $(BIN)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

## make lock: pin every package, with hashes, from requirements/*.in (after editing one of them).
## Extras stay in the pins (no --strip-extras): pip's hash mode needs `cachecontrol[filecache]==…` pinned
## as pip-audit asks for it, or it fetches the newest CacheControl from PyPI and refuses it unpinned.
lock: $(DEV_STAMP)
	cd requirements && for set in production embedded dev; do \
		../$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe \
			--no-emit-index-url --no-emit-find-links $$set.in -o $$set.txt || exit 1; \
	done

## make translations: extract messages, merge them into the Spanish catalog, compile it
translations: $(DEV_STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k Nn_:1,2 -k _l -k lazy_gettext --no-location -o shop/translations/messages.pot .
	$(BIN)/pybabel update -i shop/translations/messages.pot -d shop/translations -l es --no-fuzzy-matching
	$(BIN)/pybabel compile -d shop/translations

clean-data:
	rm -rf var
