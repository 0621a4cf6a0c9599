"""The exception and the warning PyLoader's core raises.

They live in the internal `_pyloader` module, which every loader has from its start, so
that the core can raise them in a loader whose code never imported `pyloader`; the public
`pyloader` module, loaded on its first import, has the very same classes.
"""


class LoaderClosedError(RuntimeError):
    """A closed loader was used."""

    __module__ = "pyloader"


class LoaderLeakWarning(ResourceWarning):
    """Loader.close() found a module of a loader that stays open holding an object of
    the closed loader (shown, like ResourceWarning, under -X dev or -W default)."""

    __module__ = "pyloader"
