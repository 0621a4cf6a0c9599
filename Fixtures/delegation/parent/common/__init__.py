"""Delegation fixture: `common` as the parent sees it (also in grandparent and child)."""

WHO = "parent"
LOADED_FROM = __file__
