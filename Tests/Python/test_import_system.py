"""The logic of Sources/PyLoader/Python/import_system.py, with the Swift half stubbed."""
import pathlib
import threading
import types
import unittest

from embedded import load

IMPORT_SYSTEM = "Sources/PyLoader/Python/import_system.py"


class _Distribution:
    """What importlib.metadata's Distribution gives _import_names."""

    def __init__(self, top_level=None, files=()):
        self._top_level = top_level
        self.files = [pathlib.PurePosixPath(f) for f in files] if files is not None else None

    def read_text(self, name):
        return self._top_level if name == "top_level.txt" else None


class ImportNamesTests(unittest.TestCase):
    def setUp(self):
        self.import_names = load(IMPORT_SYSTEM, _ID=1)["_import_names"]

    def test_top_level_txt_wins(self):
        dist = _Distribution(top_level="alpha\nbeta\n", files=["gamma/__init__.py"])
        self.assertEqual(self.import_names(dist), ("alpha", "beta"))

    def test_record_gives_packages_modules_and_extensions(self):
        dist = _Distribution(files=[
            "pkg/__init__.py", "pkg/sub/mod.py", "single.py", "_speedups.cpython-311-x86_64-linux-gnu.so",
            "pkg-1.0.dist-info/RECORD", "../../bin/tool", "data/readme.txt", "not-an-identifier.py"])
        self.assertEqual(sorted(self.import_names(dist)), ["_speedups", "pkg", "single"])

    def test_no_record(self):
        self.assertEqual(self.import_names(_Distribution(files=None)), ())


class _Lock:
    def __init__(self, owner):
        self.owner = owner


class BlockedOnOwnerTests(unittest.TestCase):
    """_blocked_on_owner reads importlib's _blocking_on, whose shape changed in 3.12."""

    def setUp(self):
        self.namespace = load(IMPORT_SYSTEM, _ID=1)

    def blocked_on(self, blocking_on, thread_id):
        self.namespace["_bootstrap"] = types.SimpleNamespace(_blocking_on=blocking_on, _module_locks={})
        return self.namespace["_blocked_on_owner"](thread_id)

    def test_3_11_one_lock_per_thread(self):
        self.assertEqual(self.blocked_on({7: _Lock(owner=42)}, 7), 42)

    def test_3_12_a_list_of_locks(self):
        self.assertEqual(self.blocked_on({7: [_Lock(owner=0), _Lock(owner=43)]}, 7), 43)

    def test_not_blocked_or_lock_free(self):
        self.assertIsNone(self.blocked_on({}, 7))
        self.assertIsNone(self.blocked_on({7: []}, 7))
        self.assertIsNone(self.blocked_on({7: _Lock(owner=0)}, 7))


class ImportOwnerTests(unittest.TestCase):
    def setUp(self):
        self.namespace = load(IMPORT_SYSTEM, _ID=1)

    def test_owner_of_a_module_being_initialized(self):
        module = types.ModuleType("half_done")
        module.__spec__ = types.SimpleNamespace(_initializing=True)
        lock = _Lock(owner=threading.get_ident())
        self.namespace["_sys"] = types.SimpleNamespace(modules={"half_done": module})
        self.namespace["_bootstrap"] = types.SimpleNamespace(_module_locks={"half_done": lambda: lock})
        self.assertEqual(self.namespace["_import_owner"]("half_done"), threading.get_ident())
        module.__spec__._initializing = False
        self.assertIsNone(self.namespace["_import_owner"]("half_done"))
        self.assertIsNone(self.namespace["_import_owner"]("absent"))


class DelegatingFinderTests(unittest.TestCase):
    """The finder turns Swift's decision into a spec; the decision itself is Resolver.swift's."""

    def setUp(self):
        self.decisions = {}
        names = {1: "plugin", 2: "host"}
        self.namespace = load(IMPORT_SYSTEM, _ID=1,
                              _core_find_spec=lambda fullname, loader_id: self.decisions.get(fullname),
                              _core_name=names.get)
        self.finder = self.namespace["_DelegatingFinder"]

    def test_a_delegated_name_gets_a_spec_naming_its_definer(self):
        self.decisions["hostapi"] = (2, "/host/hostapi/__init__.py", True)
        spec = self.finder.find_spec("hostapi")
        self.assertEqual(spec.name, "hostapi")
        self.assertEqual(spec.origin, "/host/hostapi/__init__.py")
        self.assertTrue(spec.has_location)
        self.assertEqual(spec.submodule_search_locations, [])
        self.assertEqual(repr(spec.loader), "<pyloader delegated loader, defined by 'host'>")

    def test_a_local_name_is_left_to_the_next_finders(self):
        self.assertIsNone(self.finder.find_spec("json"))

    def test_reloading_a_delegated_module_is_refused_naming_both_loaders(self):
        self.decisions["hostapi"] = (2, None, False)
        with self.assertRaises(ImportError) as raised:
            self.finder.find_spec("hostapi", None, types.ModuleType("hostapi"))
        self.assertEqual(str(raised.exception), "cannot reload 'hostapi' in loader 'plugin': it is delegated to"
                                                " loader 'host'; reload it there")
        self.assertEqual(raised.exception.name, "hostapi")

    def test_an_explicit_path_asks_for_no_delegated_distributions(self):
        context = types.SimpleNamespace(name="anything", path=["/somewhere"])
        self.assertEqual(self.finder.find_distributions(context), ())


if __name__ == "__main__":
    unittest.main()
