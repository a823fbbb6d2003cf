# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: run test test-unit test-e2e test-chaos chaos lint format bench system-deps install install-dev migrate clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# PostgreSQL, Redis and Chromium come from Debian's packages; install whichever is missing.
system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

migrate: install
	SANDBOX=on $(PY) manage.py migrate --noinput

# Embedded default: SQLite (WAL) + Celery filesystem broker; web, worker and beat in the foreground.
run: install
	@test -f .env || printf 'DEBUG=on\nSANDBOX=on\n' > .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_catalog
	$(PY) manage.py seed_demo --base-url http://127.0.0.1:$(PORT)
	$(VENV)/bin/honcho start -f Procfile

test: install-dev system-deps
	$(VENV)/bin/ruff check .
	scripts/with-test-servers.sh $(MAKE) --no-print-directory test-unit test-e2e test-chaos

# pytest-xdist processes for the unit and system tests (each its own test database and Redis
# database, see config/test_settings.py); PYTEST_WORKERS=0 runs them in one process.
PYTEST_WORKERS ?= 3
test-unit:
	$(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) --dist load -m "not e2e and not chaos" --ignore=tests/e2e --ignore=tests/chaos

# The chaos suite's short form (about 4 minutes on two cores): kills, provider faults, races, webhook storms.
test-chaos:
	CHAOS_SCALE=short $(VENV)/bin/pytest -q tests/chaos

# The full form: 20,000-record kill, 2-minute race, a minute of webhooks; figures into RESULTS.md.
chaos: install-dev system-deps
	CHAOS_SCALE=full CHAOS_RESULTS=benchmarks/RESULTS.md scripts/with-test-servers.sh $(VENV)/bin/pytest -q tests/chaos

test-e2e:
	$(VENV)/bin/pytest -q tests/e2e

bench: install-dev system-deps
	@command -v wrk >/dev/null || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null; }
	scripts/with-test-servers.sh $(PY) benchmarks/run.py $(BENCH_ARGS)
	scripts/with-test-servers.sh $(PY) -m benchmarks.pipedrive_bench $(filter --quick,$(BENCH_ARGS))
	scripts/with-test-servers.sh $(PY) -m benchmarks.zoho_bench $(filter --quick,$(BENCH_ARGS))
	scripts/with-test-servers.sh $(PY) -m benchmarks.enrichment_bench $(filter --quick,$(BENCH_ARGS))
	scripts/with-test-servers.sh $(PY) -m benchmarks.onboarding_bench $(filter --quick,$(BENCH_ARGS))
	scripts/with-test-servers.sh $(PY) -m benchmarks.alacarte_bench $(filter --quick,$(BENCH_ARGS))
	scripts/with-test-servers.sh $(PY) -m benchmarks.agency_bench $(filter --quick,$(BENCH_ARGS))
	scripts/with-test-servers.sh $(PY) benchmarks/webhooks_bench.py

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var staticfiles
