"""Module-level state shared by every test module run in the same interpreter."""

COUNTER = 0
CONFIG = {"mode": "pristine"}
