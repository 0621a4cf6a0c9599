"""Broken fixture: importing this package raises SyntaxError (deliberately)."""

def oops(:
    pass
