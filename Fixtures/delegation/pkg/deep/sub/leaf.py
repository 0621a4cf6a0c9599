"""Nested-package fixture: leaf module importing from its grandparent package via `..`."""

from ..helpers import x as helper_x

VALUE = f"leaf sees {helper_x}"
LOADED_FROM = __file__
