# Reliability and security (issue 8): fault, load, shutdown, race, fuzz and
# access-control tests; dependency lock, vulnerability audit, secret scan.
# See docs/reliability.md.

GITLEAKS_VERSION  := v8.30.0
GITLEAKS          := $(TOOLS)/bin/gitleaks
GITLEAKS_STAMP    := $(TOOLS)/.gitleaks-$(GITLEAKS_VERSION)
# Test and supply-chain tools (schemathesis, hypothesis, pip-audit, pip-tools)
# are pinned in setup.cfg's dev extra, so the project venv has them.
RELIABILITY_STAMP := $(VENV)/.installed
LOCK              := requirements.lock

.PHONY: reliability reliability-tests reliability-fast reliability-deps secret-scan audit lock lock-check

reliability: reliability-tests lock-check secret-scan audit ## reliability and security tests, lock check, secret scan, pip-audit

FIGURES := .cache/reliability/figures.txt

reliability-tests: $(VENV)/.installed $(RELIABILITY_STAMP) ## faults, load, graceful shutdown, races, rate limits, fuzzing, access control (~3 min)
	rm -f $(FIGURES)
	$(VENV)/bin/pytest -p no:cacheprovider -rxX tests/reliability tests/security
	@echo "--- figures ($(FIGURES)) ---"; cat $(FIGURES)

reliability-fast: $(VENV)/.installed $(RELIABILITY_STAMP) ## the same without the slow (multi-process, fault) tests
	$(VENV)/bin/pytest -p no:cacheprovider -rxX -m 'not slow' tests/reliability tests/security

reliability-deps: $(RELIABILITY_STAMP)

# gitleaks from its release tag with `go install` (no replace directives).
$(GITLEAKS_STAMP):
	mkdir -p $(TOOLS)/bin
	GOBIN=$(abspath $(TOOLS)/bin) go install github.com/zricethezav/gitleaks/v8@$(GITLEAKS_VERSION)
	rm -f $(TOOLS)/.gitleaks-*
	touch $@

$(GITLEAKS): $(GITLEAKS_STAMP)

tools: $(GITLEAKS)

secret-scan: $(GITLEAKS) ## gitleaks over every commit (config and allow-list: scripts/security/gitleaks.toml)
	GITLEAKS=$(GITLEAKS) scripts/security/secret-scan.sh

audit: $(RELIABILITY_STAMP) ## pip-audit of requirements.lock against PyPI's vulnerability data (needs PyPI's JSON API: the index pip is configured with)
	PIP_AUDIT=$(VENV)/bin/pip-audit $(PY) scripts/security/audit.py $(LOCK)

lock-check: $(VENV)/.installed ## requirements.lock pins and hashes every runtime dependency of setup.cfg
	$(PY) scripts/security/lock_check.py setup.cfg $(LOCK)

lock: $(RELIABILITY_STAMP) ## regenerate requirements.lock (pinned, hashed) from setup.cfg's install_requires (PyPI)
	$(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links --upgrade --output-file $(LOCK) setup.cfg
	$(PY) scripts/security/lock_check.py setup.cfg $(LOCK)
