"""PyLoader's loader tree, seen from Python.

Every interpreter (loader) has its own instance of this module, made on its first
import. A Loader object is a handle to a loader by identity; calling into another
loader runs the code in that loader's interpreter, and its exceptions reach the
caller unchanged.
"""

__all__ = ["Loader", "LoaderClosedError", "LoaderLeakWarning", "current", "root", "get", "loaders",
           "context", "context_loader", "defining_loader"]


# LoaderClosedError and LoaderLeakWarning come from errors.py, and the core
# functions from Swift: both are in the internal `_pyloader` module, whose names
# PyloaderModule.swift copies into this one before this file runs.


class Loader:
    """A node of the loader tree: one interpreter with its own sys.modules."""

    __slots__ = ("_id",)

    def __init__(self, *args, **kwargs):
        raise TypeError("Loader objects come from pyloader.root(), current(), get() and Loader.child()")

    @property
    def name(self):
        """The loader's name ("root" for the root)."""
        return _core_info(self._id)["name"]

    @property
    def parent(self):
        """The parent Loader, or None for the root."""
        parent = _core_info(self._id)["parent"]
        return None if parent is None else _wrap(parent)

    @property
    def children(self):
        """The live children, in creation order (a tuple)."""
        return tuple(_wrap(i) for i in _core_info(self._id)["children"])

    @property
    def paths(self):
        """The folders on this loader's sys.path after the standard library (a tuple)."""
        return _core_info(self._id)["paths"]

    @property
    def delegation(self):
        """"parent-first" or "child-first"."""
        return _core_info(self._id)["delegation"]

    @property
    def shared(self):
        """Top-level names always taken from the parent (a tuple)."""
        return _core_info(self._id)["shared"]

    @property
    def local(self):
        """Top-level names never taken from the parent (a tuple)."""
        return _core_info(self._id)["local"]

    @property
    def closed(self):
        """Whether the loader has been closed."""
        return _core_closed(self._id)

    @property
    def extensions(self):
        """"copy", "share" or "error": what happens to an extension file loaded elsewhere."""
        return _core_info(self._id)["extensions"]

    def child(self, name, paths=(), delegation="parent-first", shared=(), local=(), extensions="copy",
              gil="shared"):
        """Make a child loader with its own sub-interpreter.

        gil="own" (CPython 3.12+) gives it a GIL of its own: it runs in parallel with the
        other loaders, takes nothing from its parent, and eval()/exec() results cross by copy."""
        return _wrap(_core_child(self._id, name, tuple(paths), delegation, tuple(shared), tuple(local),
                                 extensions, gil))

    def exec(self, source):
        """Run source in this loader's __main__ namespace."""
        _core_exec(self._id, source)

    def eval(self, expression):
        """Evaluate an expression in this loader's __main__ namespace."""
        return _core_eval(self._id, expression)

    def import_module(self, name):
        """Import a module in this loader (by its delegation rules) and return it."""
        return _core_import(self._id, name)

    def run_main(self, path, argv=None):
        """Run a script as this loader's __main__; return its exit status.

        argv is the whole sys.argv for the run (argv[0] included); default [path].
        """
        return _core_run_main(self._id, path, None if argv is None else list(argv))

    def which(self, module_name):
        """The Loader that defines module_name when imported from here, or None."""
        found = _core_which(self._id, module_name)
        return None if found is None else _wrap(found)

    def close(self):
        """Close this loader and its descendants (deepest first).

        Each reference that outlives them (a module of a loader that stays open holding
        one of their objects) is reported as a LoaderLeakWarning."""
        leaks = _core_close(self._id)
        if leaks:
            warn = _import("warnings").warn
            for leak in leaks:
                warn(leak, LoaderLeakWarning, stacklevel=2)

    def __eq__(self, other):
        return isinstance(other, Loader) and other._id == self._id

    def __hash__(self):
        return hash(("pyloader.Loader", self._id))

    def __repr__(self):
        closed = " (closed)" if _core_closed(self._id) else ""
        return f"<pyloader.Loader {_core_name(self._id)!r}{closed}>"


def _wrap(loader_id):
    loader = object.__new__(Loader)
    loader._id = loader_id
    return loader


def current():
    """The loader whose interpreter runs the caller."""
    return _wrap(_ID)


def root():
    """The root loader (the main interpreter)."""
    return _wrap(_core_root())


def get(name):
    """The live loader with this name; KeyError if there is none."""
    found = _core_find(name)
    if found is None:
        raise KeyError(name)
    return _wrap(found)


def loaders():
    """Every live loader, root first, parents before children."""
    return [_wrap(i) for i in _core_ids()]


class context:
    """Set the thread's context loader for a with block (Java's setContextClassLoader).

    While it is set, lookups by name on this thread (importlib.import_module of an
    absolute name, outside module bodies) run in that loader; import statements and
    __import__ always import in the loader that owns the importing code. Nestable;
    thread-local.
    """

    __slots__ = ("_loader",)

    def __init__(self, loader):
        if not isinstance(loader, Loader):
            raise TypeError(f"context() takes a pyloader.Loader, not {type(loader).__name__}")
        self._loader = loader

    def __enter__(self):
        _core_context_push(self._loader._id)
        return self._loader

    def __exit__(self, *exc_info):
        _core_context_pop(self._loader._id)
        return False


def context_loader():
    """The thread's context loader, else current()."""
    found = _core_context_id()
    return current() if found is None else _wrap(found)


def defining_loader(obj):
    """The loader whose interpreter defined a module, function or class (None if unknown)."""
    found = _core_defining(obj)
    return None if found is None else _wrap(found)
