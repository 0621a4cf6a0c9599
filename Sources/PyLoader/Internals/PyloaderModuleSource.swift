/// The Python half of the `pyloader` module, executed in each interpreter's own
/// instance of the module. The `_core_*` functions it calls are Swift (see
/// `PyloaderModule`): this file holds only the Python-facing shapes, no policy.
/// It is compiled once per process and unmarshalled per interpreter.
let pyloaderModuleSource = #"""
"""PyLoader's loader tree, seen from Python.

Every interpreter (loader) has its own instance of this module. A Loader object
is a handle to a loader by identity; calling into another loader runs the code
in that loader's interpreter, and its exceptions reach the caller unchanged.
"""

__all__ = ["Loader", "LoaderClosedError", "LoaderLeakWarning", "current", "root", "get", "loaders",
           "context", "context_loader", "defining_loader"]


class LoaderClosedError(RuntimeError):
    """A closed loader was used."""


class LoaderLeakWarning(ResourceWarning):
    """Loader.close() found a module of a loader that stays open holding an object of
    the closed loader (shown, like ResourceWarning, under -X dev or -W default)."""


class Loader:
    """A node of the loader tree: one interpreter with its own sys.modules."""

    __slots__ = ("_id",)

    def __init__(self, *args, **kwargs):
        raise TypeError("Loader objects come from pyloader.root(), current(), get() and Loader.child()")

    @property
    def name(self):
        """The loader's name ("root" for the root)."""
        return _core_info(self._id)[0]

    @property
    def parent(self):
        """The parent Loader, or None for the root."""
        parent = _core_info(self._id)[1]
        return None if parent is None else _wrap(parent)

    @property
    def children(self):
        """The live children, in creation order (a tuple)."""
        return tuple(_wrap(i) for i in _core_info(self._id)[2])

    @property
    def paths(self):
        """The folders on this loader's sys.path after the standard library (a tuple)."""
        return _core_info(self._id)[3]

    @property
    def delegation(self):
        """"parent-first" or "child-first"."""
        return _core_info(self._id)[4]

    @property
    def shared(self):
        """Top-level names always taken from the parent (a tuple)."""
        return _core_info(self._id)[5]

    @property
    def local(self):
        """Top-level names never taken from the parent (a tuple)."""
        return _core_info(self._id)[6]

    @property
    def closed(self):
        """Whether the loader has been closed."""
        return _core_closed(self._id)

    @property
    def extensions(self):
        """"copy", "share" or "error": what happens to an extension file loaded elsewhere."""
        return _core_info(self._id)[7]

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
        name, closed = _core_name(self._id)
        return f"<pyloader.Loader {name!r}{' (closed)' if closed else ''}>"


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
"""#

/// The import-system half of `pyloader`: the finder every child loader has first
/// on `sys.meta_path` (imports and package metadata), the legacy-protocol loader for
/// delegated modules, and the extension-module loader every loader's path hook uses.
/// The rules are Swift: `Resolver`, `Metadata`, `ExtensionModules`.
let pyloaderFinderSource = #"""


# PyLoader's own code imports in this loader whatever the thread's context loader:
# import statements always do (the context rule's step 1, ContextLoaders.swift), and
# `_import` (set by PyloaderModule.execModule) is this interpreter's own _gcd_import,
# not the wrapper through which importlib.import_module honours the context loader.
import _imp
import sys as _sys
import _frozen_importlib as _bootstrap
from _frozen_importlib import ModuleSpec as _ModuleSpec
from _frozen_importlib_external import (
    BYTECODE_SUFFIXES as _BYTECODE_SUFFIXES, EXTENSION_SUFFIXES as _EXTENSION_SUFFIXES,
    SOURCE_SUFFIXES as _SOURCE_SUFFIXES, ExtensionFileLoader as _ExtensionFileLoaderBase,
    FileFinder as _FileFinder, SourceFileLoader as _SourceFileLoader,
    SourcelessFileLoader as _SourcelessFileLoader)
_EXTENSION_SUFFIXES = tuple(_EXTENSION_SUFFIXES)


class _DelegatedLoader:
    """Hands a child the very module object its defining loader holds.

    It implements only the legacy load_module() protocol on purpose: with
    exec_module(), importlib would set the module's __spec__ and __loader__ to
    this child's spec, modifying the defining loader's module.
    """

    __slots__ = ("_definer",)

    def __init__(self, definer):
        self._definer = definer

    def load_module(self, fullname):
        return _core_load(fullname, _ID, self._definer)

    def __repr__(self):
        return f"<pyloader delegated loader, defined by {_core_name(self._definer)[0]!r}>"


class _DelegatingFinder:
    """First on sys.meta_path of every child loader: decides, by the loader's
    delegation rules, whether a name is loaded here (None: the next finders
    look) or taken from the loader that defines it."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        found = _core_find_spec(fullname, _ID)
        if found is None:
            if fullname == "multiprocessing.context":
                return _spawn_by_default(fullname, path, target)
            return None
        if target is not None:
            raise ImportError(f"cannot reload {fullname!r} in loader {_core_name(_ID)[0]!r}: "
                              f"it is delegated to loader {_core_name(found[0])[0]!r}; reload it there",
                              name=fullname)
        spec = _ModuleSpec(fullname, _DelegatedLoader(found[0]), origin=found[1], is_package=found[2])
        spec.has_location = found[1] is not None
        return spec

    @staticmethod
    def find_distributions(context=None):
        """importlib.metadata's hook: the distributions this loader takes from the
        loader that defines their packages (the rule is in Metadata.swift). The
        loader's own path finders, after this one, answer for the rest. An explicit
        path= asks about those folders only: not delegated."""
        if context is None:
            context = _import("importlib.metadata").DistributionFinder.Context()
        if "path" in vars(context):
            return ()
        return _delegated_distributions(context.name)

    @staticmethod
    def invalidate_caches():
        pass


def _spawn_by_default(fullname, path, target):
    """multiprocessing.context as this loader's own finders give it, made to default to
    the 'spawn' start method once loaded: a child loader cannot fork (Forking.swift)."""
    for finder in _sys.meta_path:
        if finder is _DelegatingFinder:
            continue
        find_spec = getattr(finder, "find_spec", None)
        spec = find_spec(fullname, path, target) if find_spec is not None else None
        if spec is not None:
            break
    else:
        return None
    exec_module = spec.loader.exec_module

    def exec_then_default_to_spawn(module):
        exec_module(module)
        default = module._default_context
        if default._actual_context is None:
            default._default_context = module._concrete_contexts["spawn"]

    # The instance attribute shadows the method for this one module's load only.
    spec.loader = _SpawnByDefaultLoader(spec.loader, exec_then_default_to_spawn)
    return spec


class _SpawnByDefaultLoader:
    """Wraps the loader of multiprocessing.context (see _spawn_by_default)."""

    def __init__(self, loader, exec_module):
        self._loader = loader
        self.exec_module = exec_module

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def __getattr__(self, name):
        return getattr(self._loader, name)


def _delegated_distributions(name):
    metadata = _import("importlib.metadata")
    DistributionFinder, MetadataPathFinder = metadata.DistributionFinder, metadata.MetadataPathFinder
    if name is not None:
        # This loader's own copy names the import names; the defining loader answers.
        for own in MetadataPathFinder.find_distributions(DistributionFinder.Context(name=name)):
            source = _core_distribution_source(_ID, _import_names(own))
            return () if source is None else _core_distributions(source, name)
    # No copy of its own (or every distribution): those of the parent's view that
    # come from the loader this loader would take their packages from.
    found = []
    for dist in _core_distributions(_core_info(_ID)[1], name):
        source = _core_distribution_source(_ID, _import_names(dist))
        if source is not None and source == _core_defining(type(dist)):
            found.append(dist)
    return found


def _import_names(dist):
    """A distribution's top-level import names: its top_level.txt, else the first
    part of the Python and extension files its RECORD lists (what CPython 3.11's
    packages_distributions() infers, extension modules included)."""
    declared = (dist.read_text("top_level.txt") or "").split()
    if declared:
        return tuple(declared)
    names = set()
    for file in dist.files or ():
        parts = file.parts
        if parts and parts[0] != ".." and (file.suffix == ".py" or file.name.endswith(_EXTENSION_SUFFIXES)):
            names.add(parts[0] if len(parts) > 1 else file.name.partition(".")[0])
    return tuple(name for name in names if name.isidentifier())


class _ExtensionFileLoader(_ExtensionFileLoaderBase):
    """importlib's loader for extension modules, except that PyLoader chooses the
    file this interpreter loads (the rule is in ExtensionModules.swift): the file in
    place, or a private copy when another loader of the process already loaded it,
    so that each loader gets its own C state. The module still reports its own file."""

    def create_module(self, spec):
        location = _core_extension_location(_ID, spec.name, self.path)
        try:
            if location == self.path:
                return _imp.create_dynamic(spec)
            module = _imp.create_dynamic(_ModuleSpec(spec.name, self, origin=location))
        except Exception as error:
            replacement = _core_extension_failed(_ID, spec.name, self.path, error)
            if replacement is None:
                raise
            raise replacement from error
        if getattr(module, "__file__", None) == location:
            module.__file__ = self.path   # single-phase init sets it to the file dlopen() got
        return module

    def exec_module(self, module):
        try:
            _imp.exec_dynamic(module)
        except Exception as error:
            replacement = _core_extension_failed(_ID, self.name, self.path, error)
            if replacement is None:
                raise
            raise replacement from error


class _StdlibExtensionLoader(_ExtensionFileLoaderBase):
    """A child's loader for the standard library's extension modules: the root loads each
    one first. CPython 3.11 runs a single-phase module's init once per process and keeps
    Python objects of that first interpreter in C statics (_decimal registers its types
    with collections.abc and numbers there); when the first was a child, closing it left
    those statics pointing into an ended interpreter, and the process crashed later
    (a SIGSEGV when a class another loader had checked against that child's ABCs died).
    The root never closes. Later interpreters get CPython's copy of the module."""

    def create_module(self, spec):
        _core_preload_in_root(spec.name)
        return _imp.create_dynamic(spec)


def _install_extension_loader(in_place):
    """Puts first on sys.path_hooks a FileFinder hook whose extension modules go
    through _ExtensionFileLoader, for every folder except those in `in_place` (the
    standard library's), which it leaves to the stock FileFinder hook after it."""
    sys = _sys
    in_place = frozenset(in_place)
    make_finder = _FileFinder.path_hook((_ExtensionFileLoader, _EXTENSION_SUFFIXES),
                                        (_SourceFileLoader, _SOURCE_SUFFIXES),
                                        (_SourcelessFileLoader, _BYTECODE_SUFFIXES))

    make_stdlib_finder = _FileFinder.path_hook((_StdlibExtensionLoader, _EXTENSION_SUFFIXES),
                                               (_SourceFileLoader, _SOURCE_SUFFIXES),
                                               (_SourcelessFileLoader, _BYTECODE_SUFFIXES))
    is_root = _core_info(_ID)[1] is None

    def pyloader_path_hook(path):
        if path in in_place:
            if is_root:
                raise ImportError("left to the next path hook", path=path)
            return make_stdlib_finder(path)
        return make_finder(path)

    sys.path_hooks.insert(0, pyloader_path_hook)
    # A finder cached before the hook existed would keep the stock extension loader.
    for path in [path for path in sys.path_importer_cache if path not in in_place]:
        del sys.path_importer_cache[path]


def _own_find_spec(name):
    """The spec this loader's own finders give for a top-level name (delegation aside)."""
    for finder in _sys.meta_path:
        if finder is _DelegatingFinder:
            continue
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        spec = find_spec(name, None)
        if spec is not None:
            return spec
    return None


def _import_owner(name):
    """The thread initializing module `name` in this loader (its importlib module
    lock's owner), or None when it is not being initialized."""
    module = _sys.modules.get(name)
    if module is None or not getattr(getattr(module, "__spec__", None), "_initializing", False):
        return None
    ref = _bootstrap._module_locks.get(name)
    lock = ref() if ref is not None else None
    return None if lock is None else (lock.owner or None)


def _blocked_on_owner(thread_id):
    """The owner of the module lock thread `thread_id` waits for in this loader's
    importlib (_bootstrap._blocking_on), or None. Version seam: 3.11 maps a thread to the
    one lock it waits for; 3.12 (gh-106176, re-entrant imports) maps it to a list of them.
    """
    blocked = _bootstrap._blocking_on.get(thread_id)
    if not blocked:
        return None
    locks = blocked if isinstance(blocked, list) else (blocked,)
    for lock in locks:
        if lock.owner:
            return lock.owner
    return None


def _install_finder():
    if _DelegatingFinder not in _sys.meta_path:
        _sys.meta_path.insert(0, _DelegatingFinder)

"""#
