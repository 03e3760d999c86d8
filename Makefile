# Gold Platform: every developer and CI entry point.
# The two set-up commands are `make run` and `make test` (see README.md).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
TOOLS  := .tools
STATE  := .state
export PATH := $(abspath $(TOOLS)/bin):$(PATH)

.PHONY: help venv run test test-pg18 test-fast lint lint-python lint-shell typecheck tools clean

help: ## list targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## create .venv and install the package with its dev extra

# devtools/ (gold_devtools: devstack, postgres_binaries) is development-only
# tooling, a package of its own: installed here, never in the wheel or image.
$(VENV)/.installed: setup.cfg pyproject.toml devtools/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]' -e ./devtools
	touch $@

run: venv ## serve on http://127.0.0.1:8080 (HOST, PORT change it; starts PostgreSQL and Redis when no URL is set); keys in .state/run/dev.env
	$(PY) -m gold_devtools.devstack -- $(VENV)/bin/gold-platform dev --migrate --feed --partner demo-partner \
	    --env-file .state/run/dev.env

test: venv tools ## the whole test suite, against real PostgreSQL and Redis
	$(VENV)/bin/pytest

test-pg18: venv tools ## the whole test suite on PostgreSQL 18, the current major (a throwaway server even when DATABASE_URL is set)
	env -u DATABASE_URL GOLD_POSTGRES_MAJOR=18 $(VENV)/bin/pytest

test-fast: venv tools ## the quick loop: every test not marked slow (PYTEST_ARGS= adds options)
	$(VENV)/bin/pytest -m "not slow" $(PYTEST_ARGS)

lint: lint-python lint-shell typecheck ## static checks (fragments add more)

lint-python: venv
	$(VENV)/bin/ruff check src devtools tests bench
	$(VENV)/bin/ruff format --check src devtools tests bench

# mypy (pinned in the dev extra; configuration in setup.cfg): domain/, services/
# and store/ strictly, the rest of the package at mypy's normal level.
typecheck: venv ## mypy: strict on domain/, services/, store/; the rest of src/gold_platform normally
	$(VENV)/bin/mypy

lint-shell: venv
	@files=$$(git ls-files '*.sh' .ci/run); \
	if [ -n "$$files" ]; then $(VENV)/bin/shellcheck $$files; fi

# Project-local tools; fragments add their binaries as prerequisites.
tools:

clean: ## remove build and test leftovers (keeps .venv and .tools)
	rm -rf build dist .pytest_cache .cache src/*.egg-info

-include mk/*.mk
