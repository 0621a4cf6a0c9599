"""Failing suite: a test module that cannot be imported."""

raise ImportError("test_unimportable cannot be imported (deliberately)")
