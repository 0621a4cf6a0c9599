"""Delegation fixture: `common` as the grandparent sees it (also in parent and child)."""

WHO = "grandparent"
LOADED_FROM = __file__
