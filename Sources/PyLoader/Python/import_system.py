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
    FileFinder as _FileFinder, PathFinder as _PathFinder, SourceFileLoader as _SourceFileLoader,
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
        return f"<pyloader delegated loader, defined by {_core_name(self._definer)!r}>"


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
        definer, origin, is_package = found
        if target is not None:
            raise ImportError(f"cannot reload {fullname!r} in loader {_core_name(_ID)!r}: "
                              f"it is delegated to loader {_core_name(definer)!r}; reload it there",
                              name=fullname)
        spec = _ModuleSpec(fullname, _DelegatedLoader(definer), origin=origin, is_package=is_package)
        spec.has_location = origin is not None
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
    for dist in _core_distributions(_core_info(_ID)["parent"], name):
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
    is_root = _core_info(_ID)["parent"] is None

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


def _own_finder_state(name):
    """What decides _own_find_spec's "not found" for top-level `name`, for AbsentNames.swift
    to keep that answer while it is unchanged: (meta_path, path, importers, listings,
    listing times) as tuples. A listing is a FileFinder's _path_cache set (a new set each
    time it reads its folder again), its time the FileFinder's _path_mtime (-1 once
    importlib.invalidate_caches() asked for a new reading). None when the answer may change
    without any of them changing: a finder that is not importlib's own, a relative folder,
    an importer other than a FileFinder, or a listing that names a file or folder `name`
    would be loaded from (FileFinder then checks that entry on every search)."""
    known = (_bootstrap.BuiltinImporter, _bootstrap.FrozenImporter, _PathFinder, _DelegatingFinder)
    meta_path = tuple(_sys.meta_path)
    if not all(any(finder is k for k in known) for finder in meta_path):
        return None
    suffixes = (*_SOURCE_SUFFIXES, *_BYTECODE_SUFFIXES, *_EXTENSION_SUFFIXES)
    candidates = (name, *(name + suffix for suffix in suffixes))
    paths, importers = tuple(_sys.path), []
    for path in paths:
        if type(path) is not str or not path.startswith("/"):
            return None
        importer = _sys.path_importer_cache.get(path, False)
        if importer is not None and type(importer) is not _FileFinder:
            return None
        if importer is not None and any(entry in importer._path_cache for entry in candidates):
            return None
        importers.append(importer)
    return (meta_path, paths, tuple(importers),
            tuple(None if importer is None else importer._path_cache for importer in importers),
            tuple(None if importer is None else importer._path_mtime for importer in importers))


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
