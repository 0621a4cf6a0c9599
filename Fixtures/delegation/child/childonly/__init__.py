"""Delegation fixture: a name only the child loader's paths provide."""

WHO = "child"
LOADED_FROM = __file__
