# Two commands for a fresh machine (Python 3.11, Node 20, npm):
#   make run   - set up, start Azurite and the local Functions host on http://127.0.0.1:7071
#   make test  - set up, then lint, type-check and run every test
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 7071
INFRA_VENV := .venv-infra

.PHONY: run test lint typecheck pytest test-browser infra-check bench deps clean

deps: $(VENV)/.installed node_modules/.installed local.settings.json

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

local.settings.json:
	cp local.settings.example.json local.settings.json

run: deps
	$(PY) -m devhost --port $(PORT) --azurite --sandbox --banner-file devhost/run-banner.txt

lint: deps
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: deps
	$(PY) -m mypy .

pytest: deps
	$(PY) -m pytest $(PYTEST_ARGS)

# The workbench page in Debian's chromium (/usr/bin/chromium); screenshots in .artifacts/browser/.
test-browser: deps
	$(PY) -m pytest tests/browser $(PYTEST_ARGS)

# Offline scan of every .bicep file under infra/ (the Bicep CLI cannot be installed here). checkov exits
# non-zero on a failed check; it reports a file it cannot parse but exits 0, so that is checked too.
$(INFRA_VENV)/.installed: requirements-infra.txt
	test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-infra.txt
	touch $@

infra-check: $(INFRA_VENV)/.installed
	set -o pipefail; $(INFRA_VENV)/bin/checkov -d infra --framework bicep --skip-download --quiet --compact \
		| tee $(INFRA_VENV)/checkov.log
	@! grep -q "Parsing errors" $(INFRA_VENV)/checkov.log || { echo "checkov could not parse a .bicep file"; exit 1; }

test: lint typecheck pytest infra-check

bench: deps
	$(PY) -m bench.connector
	$(PY) -m bench.listing
	$(PY) -m bench.invoicing
	$(PY) -m bench.export
	$(PY) -m bench.sync
	$(PY) -m bench.pdf
	$(PY) -m bench.specification

clean:
	rm -rf $(VENV) $(INFRA_VENV) node_modules .azurite .mypy_cache .ruff_cache .pytest_cache .artifacts
