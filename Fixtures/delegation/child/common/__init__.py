"""Delegation fixture: `common` as the child sees it (also in parent and grandparent)."""

WHO = "child"
LOADED_FROM = __file__
