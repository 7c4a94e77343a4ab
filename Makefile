# Two commands on a fresh clone:
#   make dev    runs the whole system with demo data (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL)
#   make test   lint, type-check and run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: dev test lint install

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Musubi needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	@# Tools some tests drive, from Debian: Chromium for the browser tests (Playwright drives it,
	@# downloads nothing), docker-compose to validate deploy/compose.yaml, and promtool (package
	@# prometheus) to check the alert rules in deploy/monitoring/.
	@missing=""; for tool in chromium:chromium docker-compose:docker-compose promtool:prometheus; do \
		command -v $${tool%%:*} >/dev/null 2>&1 || missing="$$missing $${tool#*:}"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "note: install$$missing to run every test (the tests that need them are skipped)"; fi; \
	fi
	@# Test-only node tools, pinned by their lock files (the tests install them too): Mozilla's ical.js
	@# parses the calendar feed; ajv with HL7's R4 fhir.schema.json validates the FHIR handoff.
	@command -v npm >/dev/null 2>&1 && for dir in tests/integration/calendars/icaljs tests/integration/ems/fhirschema; do \
		(cd $$dir && npm ci --no-audit --no-fund --loglevel=error) || exit 1; done \
		|| echo "note: install node and npm to check the calendar feed and the FHIR schema"
	@touch $@

install: $(BIN)/.installed

dev: $(BIN)/.installed
	$(BIN)/musubi dev

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	@# Two workers: the suite waits on processes, browsers and PostgreSQL as much as it computes.
	$(BIN)/pytest -n 2 --dist loadgroup
