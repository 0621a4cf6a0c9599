"""Broken fixture: importing this package raises RuntimeError at import time."""

raise RuntimeError("boom during import")
