"""Delegation fixture: a name only the grandparent loader's paths provide."""

WHO = "grandparent"
LOADED_FROM = __file__
