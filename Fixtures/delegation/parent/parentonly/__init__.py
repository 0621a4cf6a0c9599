"""Delegation fixture: a name only the parent loader's paths provide."""

WHO = "parent"
LOADED_FROM = __file__
