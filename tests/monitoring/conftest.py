"""The rendered overlays, from the manifest tests' fixtures (pinned kustomize)."""

from tests.manifests.conftest import rendered, tools  # noqa: F401  (fixtures)
