"""The parent-first question on real PyPI packages (the start-up issue; AbsentNames.swift).

Run inside PyLoader's root, after Scripts/install-test-deps:

    swift build -c release && .build/release/pyloader run Scripts/real-parent-first.py

Parent-first children whose own paths hold the pinned pytest, pluggy, packaging and
iniconfig (.test-deps/pytest), under a root that has none of them, each `import pytest`:
before each of their top-level names the child asks the root whether it can provide it.
Every folder of the root's sys.path gets a counting spy on its FileFinder (an instance
attribute: the finder stays a FileFinder, so the shortcut stays on). It prints which names
reached the root's finders while each child imported (the first child: each of its
top-level names once, and the standard-library extensions the root loads first for any
child; later children: none), that pytest works in each child and is its own copy, and that a module the root
gains later is found by the next child (taken from the root, as parent-first says).
"""
import os
import sys
import tempfile
import time

import pyloader

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
packages = os.path.join(repo, ".test-deps", "pytest")
if not os.path.isdir(os.path.join(packages, "pytest")):
    sys.exit(f"real-parent-first: no pytest in {packages}: run Scripts/install-test-deps first")

# The root looks in a folder of its own too, empty for now.
later = tempfile.mkdtemp(prefix="pyloader-parent-first-")
sys.path.append(later)
root = pyloader.root()
root.exec("import importlib.util; importlib.util.find_spec('no_such_module_here')")   # fills the importer cache

asked = []


def spy(path):
    finder = sys.path_importer_cache.get(path)
    if finder is None:
        return
    original = finder.find_spec

    def find_spec(name, target=None):
        asked.append(name)
        return original(name, target)

    finder.find_spec = find_spec


for path in list(sys.path):
    spy(path)


def plugin(index):
    del asked[:]
    child = root.child(f"plugin-{index}", paths=[packages])
    started = time.perf_counter()
    child.exec("import pytest, pluggy, packaging.version, iniconfig")
    elapsed = time.perf_counter() - started
    works = child.eval("pytest.__version__ + ' / '"
                       " + str(packaging.version.Version('1.2') < packaging.version.Version('1.10'))")
    own = child.which("pytest") == child and child.eval("pytest.__file__").startswith(packages)
    child.close()
    print(f"child {index}: import pytest, pluggy, packaging.version, iniconfig in {elapsed * 1e3:.1f} ms; "
          f"pytest {works}; its own copy: {own}; names that reached the root's finders "
          f"(the root's own first imports included): {sorted(set(asked))}")


for index in range(1, 4):
    plugin(index)

# The root gains a module named like one of the plugins' own: the next child takes it from
# the root (the folder's modification time changed, so the kept answer is dropped).
with open(os.path.join(later, "iniconfig.py"), "w") as f:
    f.write("WHOSE = 'root'\n")
child = root.child("plugin-after", paths=[packages])
child.exec("import iniconfig")
whose = child.eval("getattr(iniconfig, 'WHOSE', None)")
print(f"after the root's folder gained iniconfig.py: the child's iniconfig comes from loader "
      f"{child.which('iniconfig').name!r} (WHOSE = {whose!r})")
child.close()
