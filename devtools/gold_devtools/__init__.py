"""Development-only tooling for Gold Platform: throwaway PostgreSQL and Redis
(`devstack`) and the pinned PostgreSQL binaries they run (`postgres_binaries`).

Installed into the project's .venv by `make venv` (editable, from devtools/),
never into the gold-platform wheel or the container image.
"""
