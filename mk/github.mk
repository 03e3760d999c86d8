# GitHub Actions delivery: workflow linting and the GitOps scripts.
# See docs/delivery.md. Uses VENV, PY, PYTHON and TOOLS from the top Makefile;
# $(TOOLS)/bin/kustomize comes from mk/manifests.mk.

ACTIONLINT_VERSION       ?= v1.7.12
ZIZMOR_VERSION           ?= 1.32.0
CHECK_JSONSCHEMA_VERSION ?= 0.39.0

ACTIONLINT       := $(TOOLS)/bin/actionlint
# zizmor and check-jsonschema, exact pins, in their own small venv (they pull
# in nothing the service needs). Point these at $(VENV)/bin if they move into
# the dev extra.
WORKFLOW_VENV    := $(TOOLS)/workflow-lint-venv
WORKFLOW_STAMP   := $(WORKFLOW_VENV)/.installed-$(ZIZMOR_VERSION)-$(CHECK_JSONSCHEMA_VERSION)
ZIZMOR           ?= $(WORKFLOW_VENV)/bin/zizmor
CHECK_JSONSCHEMA ?= $(WORKFLOW_VENV)/bin/check-jsonschema
WORKFLOWS         = $(wildcard .github/workflows/*.yml .github/workflows/*.yaml)

# manifests-diff inputs (the workflow passes the PR's SHAs)
DIFF_BASE    ?= origin/main
DIFF_HEAD    ?=
DIFF_OUT     ?= .cache/manifests-diff
DIFF_RUN_URL ?=

.PHONY: lint-workflows test-gitops manifests-diff gitops-bump promotion-pr

tools: $(ACTIONLINT)

$(ACTIONLINT): $(TOOLS)/versions/actionlint-$(ACTIONLINT_VERSION)
	@command -v go >/dev/null || { echo "github: go is needed to install actionlint" >&2; exit 2; }
	GOBIN=$(abspath $(TOOLS)/bin) go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	touch $@

$(TOOLS)/versions/actionlint-$(ACTIONLINT_VERSION):
	@mkdir -p $(@D) && touch $@

$(WORKFLOW_STAMP):
	$(PYTHON) -m venv $(WORKFLOW_VENV)
	$(WORKFLOW_VENV)/bin/pip install --quiet --disable-pip-version-check \
		'zizmor==$(ZIZMOR_VERSION)' 'check-jsonschema==$(CHECK_JSONSCHEMA_VERSION)'
	touch $@

lint-workflows: $(ACTIONLINT) $(WORKFLOW_STAMP) $(VENV)/.installed ## actionlint, zizmor --offline, JSON schemas of workflows and dependabot.yml
	@test -n "$(WORKFLOWS)" || { echo "github: no workflow under .github/workflows" >&2; exit 1; }
	$(ACTIONLINT) -shellcheck $(abspath $(VENV)/bin/shellcheck) $(WORKFLOWS)
	$(ZIZMOR) --offline --no-progress --min-severity informational .github
	$(CHECK_JSONSCHEMA) --builtin-schema vendor.github-workflows $(WORKFLOWS)
	$(CHECK_JSONSCHEMA) --builtin-schema vendor.dependabot .github/dependabot.yml

test-gitops: $(TOOLS)/bin/kustomize $(VENV)/.installed ## tests of scripts/gitops on throwaway git repositories
	KUSTOMIZE=$(abspath $(TOOLS)/bin/kustomize) $(VENV)/bin/pytest tests/gitops

manifests-diff: $(TOOLS)/bin/kustomize ## rendered diff of every overlay: DIFF_BASE (default origin/main) vs DIFF_HEAD (default: work tree)
	@mkdir -p $(DIFF_OUT)
	scripts/gitops/diff-overlays.sh --merge-base --markdown $(DIFF_OUT)/comment.md \
		$(if $(DIFF_RUN_URL),--run-url "$(DIFF_RUN_URL)") "$(DIFF_BASE)" $(if $(DIFF_HEAD),"$(DIFF_HEAD)") \
		| tee $(DIFF_OUT)/diff.txt

gitops-bump: $(TOOLS)/bin/kustomize ## CI: set dev's image to IMAGE=REPO@sha256:..., commit and push (BUMP_SOURCE: text for the message)
	@test -n "$(IMAGE)" || { echo "github: IMAGE=REPO@sha256:<digest> is required" >&2; exit 2; }
	scripts/gitops/bump-image.sh --push $(if $(BUMP_SOURCE),--source "$(BUMP_SOURCE)") "$(IMAGE)"

promotion-pr: $(TOOLS)/bin/kustomize ## CI: open the promotion PR for PROMOTE_ENV=staging|prod (needs gh and GH_TOKEN)
	@test -n "$(PROMOTE_ENV)" || { echo "github: PROMOTE_ENV=staging|prod is required" >&2; exit 2; }
	scripts/gitops/promotion-pr.sh "$(PROMOTE_ENV)"
