"""The HTTP layer: thin handlers that parse, call the domain/store, and render."""
