# The README's two set-up commands: `make run` and `make test`. Both create .venv/ and install
# Pipfile.lock into it first; the embedded PostgreSQL starts on first connection (.pgdata/).
PYTHON ?= python3
VENV := .venv
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export PIPENV_IGNORE_VIRTUALENVS := 1
MANAGE := $(VENV)/bin/python manage.py

.PHONY: install run test test-fast lint docs docs-build schema bench bench-large bench-huge

install: $(VENV)/.installed

$(VENV)/.installed: Pipfile.lock
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check pipenv
	$(VENV)/bin/pipenv sync --dev
	touch $@

# Development only: debug pages, static files from the apps, plain HTTP (see settings.py). One
# ingestion worker runs in the background for uploads (POST /imports/), stopped with the server.
run: export DEBUG ?= 1
# The samples are no one's revenue: anyone on this machine may read them.
run: export API_READ_ACCESS ?= public
run: install
	$(MANAGE) migrate --noinput
	$(MANAGE) ingest_dsr data/*.tsv*
	$(MANAGE) ingest_worker & worker=$$!; trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(MANAGE) runserver 127.0.0.1:8000

test: install
	$(VENV)/bin/pytest

# The tests that run in one process on one connection: no real processes, servers, crashes or
# generated examples (`slow`), nothing committed for other connections to read (`committed`).
test-fast: install
	$(VENV)/bin/pytest -m "not slow and not committed" -q

# What CI checks besides the tests: lint, formatting, the direction of imports (pyproject.toml).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# The docs site (mkdocs.yml, docs/) at http://127.0.0.1:8001; docs-build is CI's strict build.
docs: export NO_MKDOCS_2_WARNING := 1
docs: install
	$(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:8001

docs-build: export NO_MKDOCS_2_WARNING := 1
docs-build: install
	$(VENV)/bin/mkdocs build --strict --site-dir $${SITE_DIR:-site}

# docs/openapi.yaml is the API schema drf-spectacular generates; a test fails when it is stale.
schema: install
	$(MANAGE) spectacular --validate --fail-on-warn --file docs/openapi.yaml

# The figures of docs/performance.md; generated files are cached in .bench/. The benchmark
# creates its own database on the project's server, so it needs the server's URL.
WITH_DATABASE_URL := $(VENV)/bin/python -m dsr_project.embedded_postgres
bench: install
	$(WITH_DATABASE_URL) $(VENV)/bin/python -m bench.run

bench-large: install
	$(WITH_DATABASE_URL) $(VENV)/bin/python -m bench.run --large

bench-huge: install
	$(WITH_DATABASE_URL) $(VENV)/bin/python -m bench.run --huge
