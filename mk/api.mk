# The API contract (src/gold_platform/http/openapi.yaml): lint it, and refuse
# breaking changes against its last released version. See docs/api.md.
# Uses VENV, PY, PYTHON and TOOLS from the top Makefile.

# As in mk/manifests.mk (read before it: the rule target below needs it).
GOLD_CACHE_DIR                 ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gold-platform
OPENAPI_DOCUMENT               := src/gold_platform/http/openapi.yaml
OPENAPI_SPEC_VALIDATOR_VERSION ?= 0.9.0
OASDIFF_VERSION                ?= v1.38.0
# openapi-spec-validator, exact pin, in its own small venv (it pulls in
# nothing the service needs).
API_LINT_VENV  := $(TOOLS)/api-lint-venv
API_LINT_STAMP := $(API_LINT_VENV)/.installed-$(OPENAPI_SPEC_VALIDATOR_VERSION)
# oasdiff from its release tag with `go install` (no replace directives), the
# binary cached outside the clone, keyed by version (as promtool).
OASDIFF        ?= $(GOLD_CACHE_DIR)/oasdiff-$(OASDIFF_VERSION)/bin/oasdiff
# The revision whose document counts as released; empty: scripts/api/breaking.sh
# picks the latest v* tag, else the merge-base with origin/main, else HEAD~.
API_BASE       ?=

.PHONY: api-lint api-validate api-breaking api-docs-tools api-docs-check

$(API_LINT_STAMP):
	rm -rf $(API_LINT_VENV)
	$(PYTHON) -m venv $(API_LINT_VENV)
	$(API_LINT_VENV)/bin/pip install --quiet --disable-pip-version-check \
		'openapi-spec-validator==$(OPENAPI_SPEC_VALIDATOR_VERSION)'
	touch $@

$(OASDIFF):
	@command -v go >/dev/null || { echo "api: go is needed to build oasdiff" >&2; exit 2; }
	GOBIN=$(@D) nice -n 10 go install \
		-ldflags "-s -w -X github.com/oasdiff/oasdiff/build.Version=$(OASDIFF_VERSION)" \
		github.com/oasdiff/oasdiff@$(OASDIFF_VERSION)

api-lint: api-validate api-breaking ## the OpenAPI document: openapi-spec-validator, then oasdiff breaking changes vs the last release (API_BASE=REV)

api-validate: $(API_LINT_STAMP) ## openapi-spec-validator over the OpenAPI document (OpenAPI 3.1 and its JSON Schemas)
	$(API_LINT_VENV)/bin/openapi-spec-validator --schema 3.1.0 $(OPENAPI_DOCUMENT)

api-breaking: $(OASDIFF) $(VENV)/.installed ## oasdiff: no breaking change of the OpenAPI document vs API_BASE (default: latest v* tag, else merge-base with origin/main, else HEAD~)
	scripts/api/breaking.sh --oasdiff $(OASDIFF) --python $(abspath $(PY)) $(if $(API_BASE),--base "$(API_BASE)") $(OPENAPI_DOCUMENT)

# Chromium from Debian (as root, when missing), as bench-tools installs wrk.
api-docs-tools:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	  else echo "api: chromium is missing: sudo apt-get install chromium" >&2; exit 2; fi; }

api-docs-check: venv api-docs-tools ## the Swagger UI page in headless Chromium against the real server (tests/service/test_docs_page.py)
	$(VENV)/bin/pytest -p no:cacheprovider -rs tests/service/test_docs_page.py
