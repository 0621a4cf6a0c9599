"""Module state the tests change: one list, shared by everything in one interpreter."""
CALLS = []
