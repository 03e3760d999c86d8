"""Logs and metrics: how the service reports on itself."""
