# A real single-node Kubernetes on this machine (see docs/cluster.md).
#
#   make cluster-up     build (first time: tens of minutes, cached outside the
#                       clone), start, deploy the dev overlay; leaves it running
#   make cluster-down   stop everything cluster-up started and clean up
#   make e2e            cluster-up, the end-to-end scenarios, cluster-down

.PHONY: cluster-binaries cluster-up cluster-down e2e e2e-scenarios

CLUSTER_STATE ?= $(abspath $(STATE))/cluster
export CLUSTER_STATE

cluster-binaries: ## build and cache the cluster's binaries (etcd, Kubernetes, CNI, CoreDNS; ARGOCD=1 adds Argo CD, Traefik, cert-manager)
	scripts/cluster/build.sh pause cni etcd kubernetes coredns $(if $(filter 1,$(ARGOCD)),argocd traefik cert-manager)

cluster-up: venv $(KUSTOMIZE) ## start a local Kubernetes on 127.0.0.1 and deploy the dev overlay (root; ARGOCD=1: Argo CD syncs it, with an ingress controller and cert-manager)
	ARGOCD=$(ARGOCD) scripts/cluster/up.sh

cluster-down: ## stop the local cluster; no process, mount, bridge, cgroup or socket is left
	scripts/cluster/down.sh

e2e-scenarios: venv ## the end-to-end scenarios against the cluster of $KUBECONFIG (local or kind)
	@if [ -f $(CLUSTER_STATE)/env ]; then . $(CLUSTER_STATE)/env; fi; \
	$(VENV)/bin/pytest -p no:cacheprovider -o addopts="-ra --strict-markers" -s tests/e2e

e2e: venv $(KUSTOMIZE) ## cluster-up with Argo CD, every end-to-end scenario with its figure, cluster-down
	@set +e; DEPLOY=0 ARGOCD=1 scripts/cluster/up.sh && . $(CLUSTER_STATE)/env && \
	    $(VENV)/bin/pytest -p no:cacheprovider -o addopts="-ra --strict-markers" -s tests/e2e; \
	  rc=$$?; scripts/cluster/down.sh || rc=1; exit $$rc
