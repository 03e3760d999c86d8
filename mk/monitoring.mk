# Monitoring: alert rules unit-tested with promtool per rendered overlay, and
# the Grafana dashboard linted. See docs/monitoring.md. Uses VENV, PY and
# GOLD_CACHE_DIR, RENDERED_DIR, OVERLAYS (mk/manifests.mk) from the fragments.

# promtool of Prometheus 3.16.0 (the Go module's versions are v0.3xx.y for
# Prometheus 3.xx.y). Its go.mod has no replace directives, so `go install`
# builds it; the binary is cached outside the clone, keyed by version.
PROMTOOL_VERSION ?= v0.316.0
PROMTOOL         ?= $(GOLD_CACHE_DIR)/promtool-$(PROMTOOL_VERSION)/bin/promtool

# tests/monitoring (also collected by `make test`) reads it.
export PROMTOOL

.PHONY: monitoring-check alerts-test dashboard-lint

tools: $(PROMTOOL)

$(PROMTOOL):
	@command -v go >/dev/null || { echo "monitoring: go is needed to build promtool" >&2; exit 2; }
	GOBIN=$(@D) nice -n 10 go install \
		-ldflags "-s -w -X github.com/prometheus/common/version.Version=$(PROMTOOL_VERSION)" \
		github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION)

monitoring-check: alerts-test dashboard-lint ## promtool unit tests of the alert rules per overlay, and the dashboard lint

alerts-test: render $(PROMTOOL) $(VENV)/.installed ## promtool check + test rules (tests/alerts) on the rules every overlay renders
	$(PY) scripts/monitoring/test-alerts.py --promtool $(PROMTOOL) --tests tests/alerts \
		$(foreach env,$(OVERLAYS),$(RENDERED_DIR)/$(env).yaml)

dashboard-lint: $(PROMTOOL) $(VENV)/.installed ## the Grafana dashboard: structure, provisioning, every query parses and uses exported metrics
	$(VENV)/bin/pytest -q tests/monitoring
