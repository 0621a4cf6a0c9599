"""Module fixture: package run with `-m echo_mod` (see __main__.py)."""
