"""The delegated-import fast path on packages nobody here wrote: the pinned pytest, pluggy,
packaging and iniconfig from PyPI (Scripts/install-test-deps puts them in .test-deps/pytest).
The root imports them; a parent-first child with a spy finder first on its sys.meta_path
imports them too, uses packaging, and is closed; the root's modules must still work.

    swift build -c release && .build/release/pyloader run Scripts/real-fast-path.py
"""
import os
import sys
import pyloader
sys.path.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".test-deps", "pytest"))
import pytest, packaging.version, pluggy
root = pyloader.root()
held = sorted(n for n in sys.modules if n.split(".")[0] in ("pytest", "_pytest", "packaging", "pluggy", "iniconfig"))
child = root.child("real-fastpath")   # parent-first, no paths of its own
child.exec("""
import sys, time
class _Spy:
    seen = []
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        cls.seen.append(name)
        return None
sys.meta_path.insert(0, _Spy)
_t0 = time.perf_counter()
import pytest, packaging.version, pluggy
_took = time.perf_counter() - _t0
_v = packaging.version.Version("8.3.4") < packaging.version.Version(pytest.__version__ + ".1")
""")
same = child.eval("pytest") is pytest and child.eval("packaging.version") is packaging.version
print(f"root holds {len(held)} modules of pytest, _pytest, packaging, pluggy, iniconfig")
print(f"child: import pytest, packaging.version, pluggy in {child.eval('_took')*1e3:.2f} ms; "
      f"same objects as the root's: {same}; packaging compares versions in the child: {child.eval('_v')}")
seen = child.eval("_Spy.seen")
print(f"names that reached the child's finders: {len(seen)} {seen[:8]}")
child.close()
print(f"after close, the root's pytest still works: pytest.__version__ = {pytest.__version__}, "
      f"packaging: {packaging.version.Version('1.0') < packaging.version.Version('1.1')}")
