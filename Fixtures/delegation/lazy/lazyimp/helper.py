"""Lazy-import fixture: submodule imported only by lazyimp.load_relative()."""

LOADED_FROM = __file__
