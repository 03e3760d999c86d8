# Kubernetes manifests: pinned tools, offline schemas, render + validate + policy tests.
# See docs/kubernetes.md. Uses VENV, PY, PYTHON and TOOLS from the top Makefile.

KUSTOMIZE_VERSION           ?= v5.8.1
KUBECONFORM_VERSION         ?= v0.7.0
KUBERNETES_VALIDATE_VERSION ?= 1.37.0
KUBE_SCORE_VERSION          ?= v1.20.0
CHECKOV_VERSION             ?= 3.3.30
# Kubernetes version the manifests are validated against (schemas from kubernetes-validate).
KUBERNETES_VERSION          ?= 1.33.0
# CRD schemas (Argo CD, cert-manager, Prometheus Operator, External Secrets,
# policy-controller):
# generated from the pinned releases' own CRDs (scripts/cluster/versions.env,
# fetched from the Go module proxy) into a cache outside the clone, laid out
# as {group}/{kind}_{version}.json. Override with a kubeconform template or
# another such folder, e.g. the public CRDs-catalog's URL template.
GOLD_CACHE_DIR              ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gold-platform
CRD_VERSIONS_KEY            := $(shell sed -n 's/^\(ARGOCD\|CERT_MANAGER\|EXTERNAL_SECRETS\|PROMETHEUS_OPERATOR\|POLICY_CONTROLLER\)_VERSION=//p' scripts/cluster/versions.env | tr '\n' '-')
CRD_SCHEMA_DIR              := $(GOLD_CACHE_DIR)/crd-schemas/$(CRD_VERSIONS_KEY)v1
CRD_SCHEMA_LOCATION         ?= $(CRD_SCHEMA_DIR)

KUSTOMIZE      := $(TOOLS)/bin/kustomize
KUBECONFORM    := $(TOOLS)/bin/kubeconform
KUBE_SCORE     := $(TOOLS)/bin/kube-score
MANIFESTS_VENV := $(TOOLS)/manifests-venv
# checkov in its own venv: it pins its own versions of common packages
# (packaging among them) that must not leak into .venv.
CHECKOV_VENV   := $(TOOLS)/checkov-venv
CHECKOV_STAMP  := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
CHECKOV        := $(CHECKOV_VENV)/bin/checkov
K8S_SCHEMA_DIR := .cache/k8s-schemas
K8S_SCHEMAS    := $(K8S_SCHEMA_DIR)/v$(KUBERNETES_VERSION)-standalone-strict/.complete
RENDERED_DIR   := .cache/rendered
OVERLAYS       := dev staging prod

# tests/manifests (also collected by `make test`) read these.
export KUSTOMIZE KUBECONFORM KUBERNETES_VERSION K8S_SCHEMA_DIR CRD_SCHEMA_LOCATION KUBE_SCORE CHECKOV

.PHONY: manifests manifests-validate manifests-score render manifests-clean

tools: $(TOOLS)/bin/kustomize $(TOOLS)/bin/kubeconform $(K8S_SCHEMAS) $(CRD_SCHEMA_DIR)/.complete \
	$(KUBE_SCORE) $(CHECKOV_STAMP)

$(CRD_SCHEMA_DIR)/.complete: scripts/manifests/build-crd-schemas.py scripts/cluster/crds.sh | $(VENV)/.installed
	@command -v go >/dev/null || { echo "manifests: go is needed to fetch the CRDs (or set CRD_SCHEMA_LOCATION)" >&2; exit 2; }
	@files=$$(scripts/cluster/crds.sh files) || { echo "manifests: fetching the CRDs from the Go module proxy failed; set GOPROXY, or CRD_SCHEMA_LOCATION to a schema folder or URL template" >&2; exit 2; }; \
	rm -rf $(CRD_SCHEMA_DIR) && $(PY) scripts/manifests/build-crd-schemas.py --out $(CRD_SCHEMA_DIR) $$files
	touch $@

# go install of the release tags (no replace directives). The version stamp
# makes a version bump in this file reinstall the binary.
$(TOOLS)/bin/kustomize: $(TOOLS)/versions/kustomize-$(KUSTOMIZE_VERSION)
	@command -v go >/dev/null || { echo "manifests: go is needed to install kustomize" >&2; exit 2; }
	GOBIN=$(abspath $(TOOLS)/bin) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	touch $@

$(TOOLS)/bin/kubeconform: $(TOOLS)/versions/kubeconform-$(KUBECONFORM_VERSION)
	@command -v go >/dev/null || { echo "manifests: go is needed to install kubeconform" >&2; exit 2; }
	GOBIN=$(abspath $(TOOLS)/bin) go install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)
	touch $@

# The version is stamped into the binary too (`kube-score version`).
$(KUBE_SCORE): $(TOOLS)/versions/kube-score-$(KUBE_SCORE_VERSION)
	@command -v go >/dev/null || { echo "manifests: go is needed to install kube-score" >&2; exit 2; }
	GOBIN=$(abspath $(TOOLS)/bin) nice -n 10 go install -ldflags "-X main.version=$(KUBE_SCORE_VERSION)" \
		github.com/zegl/kube-score/cmd/kube-score@$(KUBE_SCORE_VERSION)
	touch $@

$(CHECKOV_STAMP):
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'
	touch $@

$(TOOLS)/versions/%:
	@mkdir -p $(@D) && touch $@

# Separate small venv: kubernetes-validate only provides the schema files.
$(MANIFESTS_VENV)/.installed-$(KUBERNETES_VALIDATE_VERSION):
	$(PYTHON) -m venv $(MANIFESTS_VENV)
	$(MANIFESTS_VENV)/bin/pip install --quiet --disable-pip-version-check \
		'kubernetes-validate==$(KUBERNETES_VALIDATE_VERSION)'
	touch $@

$(K8S_SCHEMAS): $(MANIFESTS_VENV)/.installed-$(KUBERNETES_VALIDATE_VERSION) scripts/manifests/build-k8s-schemas.py
	$(MANIFESTS_VENV)/bin/python scripts/manifests/build-k8s-schemas.py \
		--version $(KUBERNETES_VERSION) --out $(K8S_SCHEMA_DIR)
	touch $@

render: $(TOOLS)/bin/kustomize ## render every overlay into .cache/rendered/<env>.yaml
	@mkdir -p $(RENDERED_DIR)
	@for env in $(OVERLAYS); do \
		$(KUSTOMIZE) build kustomize/overlays/$$env > $(RENDERED_DIR)/$$env.yaml; \
		echo "rendered $(RENDERED_DIR)/$$env.yaml"; \
	done

manifests: manifests-validate ## render overlays, kubeconform (strict, offline schemas), policy, yamllint, tests/manifests
	$(VENV)/bin/pytest tests/manifests

# The same without pytest, for a CI that already runs tests/manifests inside `make test`.
manifests-validate: tools $(VENV)/.installed ## render + kubeconform + policy + yamllint (no pytest)
	$(PY) scripts/manifests/validate.py --root . --out $(RENDERED_DIR)
	$(VENV)/bin/yamllint -c .yamllint.yaml .

manifests-score: render $(KUBE_SCORE) $(CHECKOV_STAMP) ## kube-score and checkov over every rendered overlay (ignore lists: scripts/manifests/)
	scripts/manifests/score.sh $(foreach env,$(OVERLAYS),$(RENDERED_DIR)/$(env).yaml)

manifests-clean: ## remove rendered output and generated schemas
	rm -rf $(RENDERED_DIR) $(K8S_SCHEMA_DIR)
