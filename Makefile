# Dynasty Futures backend. The two commands a newcomer needs: `make up` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR):$(CURDIR)/gen/python

.PHONY: help up test reset proto lint lint-py lint-proto lint-imports lint-infra bench unit integration e2e acceptance

help:
	@echo "make up      start the whole system (services, gateway, PostgreSQL, Redis, demo data); Ctrl-C stops it"
	@echo "make test    install what is missing and run every check and test"
	@echo "make reset   wipe the devstack's data folder (.data/)"
	@echo "make proto   regenerate the protobuf/gRPC code into gen/python"
	@echo "make lint    ruff, buf lint, import-linter"
	@echo "make bench   run the performance benchmarks and print their figures"

# The virtualenv is rebuilt when the pinned dependencies change.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

proto: $(STAMP)
	$(PY) -m libs.platform.protogen --force

gen/python/.proto-hash: $(STAMP) $(shell find proto -name '*.proto')
	$(PY) -m libs.platform.protogen

up: $(STAMP) gen/python/.proto-hash
	$(PY) -m devstack.up

reset:
	rm -rf .data

lint: lint-py lint-proto lint-imports

lint-py: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

lint-proto: node_modules/.installed
	./node_modules/.bin/buf lint
	@if git rev-parse --verify -q main >/dev/null && git cat-file -e main:buf.yaml 2>/dev/null; then \
		./node_modules/.bin/buf breaking --against '.git#branch=main'; \
	else echo "buf breaking: no committed main with protos to compare against yet"; fi

lint-imports: $(STAMP) gen/python/.proto-hash
	$(VENV)/bin/lint-imports

lint-infra:
	bash infra/check.sh

test: $(STAMP) gen/python/.proto-hash lint lint-infra
	$(PY) -m pytest tests -q -p no:cacheprovider

unit: $(STAMP) gen/python/.proto-hash
	$(PY) -m pytest tests/unit tests/acceptance -q

integration: $(STAMP) gen/python/.proto-hash
	$(PY) -m pytest tests/integration -q

e2e: $(STAMP) gen/python/.proto-hash
	$(PY) -m pytest tests/e2e -q

bench: $(STAMP) gen/python/.proto-hash
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done
