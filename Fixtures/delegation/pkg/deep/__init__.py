"""Nested-package fixture: relative imports downwards and upwards inside one package."""

from . import helpers
from .sub import leaf

LOADED_FROM = __file__
