"""Nested-package fixture: subpackage importing a sibling (`.`) and a parent module (`..`)."""

from . import leaf
from ..helpers import x

LOADED_FROM = __file__
