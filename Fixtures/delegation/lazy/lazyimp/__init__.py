"""Lazy-import fixture: imports inside function bodies land in the loader that defines them."""

LOADED_FROM = __file__


def load_json():
    import json

    return json.__name__


def load_decimal():
    import decimal

    return decimal.__name__


def load_relative():
    from . import helper

    return helper.__name__
