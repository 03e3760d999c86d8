"""Gold Platform: HTTP API for a digital-gold savings platform."""

__version__ = "0.1.0"
