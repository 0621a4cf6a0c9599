"""Nested-package fixture: helper reached from deep.sub via `from ..helpers import x`."""

x = "helpers.x"
LOADED_FROM = __file__
