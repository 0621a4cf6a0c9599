"""Where the plugin start-up figure's time goes (BENCHMARKS.md, 2026-12-03 section).

Run inside PyLoader's root, in a release build:

    swift build -c release && .build/release/pyloader run Scripts/plugin-startup-pieces.py

It writes the bench's files (a 200-module host package the root imports, 50 plugin modules)
into a temporary folder and times, 15 times each (medians): a child importing the 50 own
modules against a raw `_xxsubinterpreters` interpreter doing the same; a child importing the
200 host modules (handed over by the fast path); child create + close against raw create +
destroy; and, inside one child, the parent-first question for an own module
(`_DelegatingFinder.find_spec`) and the root's own search behind it (`_own_find_spec`).
"""
import importlib
import os
import statistics
import sys
import tempfile
import time

import _xxsubinterpreters as xi
import pyloader

folder = tempfile.mkdtemp(prefix="pyloader-plugin-pieces-")
host, plugin = os.path.join(folder, "host"), os.path.join(folder, "plugin")
os.makedirs(os.path.join(host, "hostlib"))
os.makedirs(plugin)
open(os.path.join(host, "hostlib", "__init__.py"), "w").close()
for i in range(200):
    with open(os.path.join(host, "hostlib", f"m{i}.py"), "w") as f:
        f.write(f"VALUE = {i}\n\ndef api(x):\n    return x + VALUE\n\nclass Handle:\n    pass\n")
for i in range(50):
    with open(os.path.join(plugin, f"own{i}.py"), "w") as f:
        f.write(f"VALUE = {i}\n\ndef work():\n    return VALUE\n")

sys.path.insert(0, host)
for i in range(200):
    importlib.import_module(f"hostlib.m{i}")
root = pyloader.root()
own = "import " + ", ".join(f"own{i}" for i in range(50))
hosted = "import " + ", ".join(f"hostlib.m{i}" for i in range(200))
timed = "import time as _t\n_s = _t.perf_counter()\n{code}\n_e = _t.perf_counter() - _s\n"
result = os.path.join(folder, "raw.txt")


def in_child(code):
    child = root.child("pieces", paths=[plugin])
    child.exec(timed.format(code=code))
    elapsed = child.eval("_e")
    child.close()
    return elapsed


def in_raw(code):
    raw = xi.create()
    xi.run_string(raw, f"import sys; sys.path.append({plugin!r})\n" + timed.format(code=code)
                  + f"open({result!r}, 'w').write(str(_e))\n")
    xi.destroy(raw)
    with open(result) as f:
        return float(f.read())


def median_of(measure, runs=15):
    measure()   # warm-up: bytecode written, files cached
    return statistics.median(measure() for _ in range(runs))


for label, measure, code, count in [("child: the 50 own imports", in_child, own, 50),
                                    ("raw interpreter: the 50 own imports", in_raw, own, 50),
                                    ("child: the 200 host imports (handed over)", in_child, hosted, 200)]:
    seconds = median_of(lambda: measure(code))
    print(f"{label}: {seconds * 1e3:.2f} ms ({seconds * 1e6 / count:.1f} us each)")


def create_close():
    started = time.perf_counter()
    root.child("pieces-cycle", paths=[plugin]).close()
    return time.perf_counter() - started


def raw_create_destroy():
    started = time.perf_counter()
    xi.destroy(xi.create())
    return time.perf_counter() - started


print(f"child create + close: {median_of(create_close) * 1e3:.2f} ms; "
      f"raw create + destroy: {median_of(raw_create_destroy) * 1e3:.2f} ms")

child = root.child("pieces-finder", paths=[plugin])
child.exec("""
import time as _t, pyloader
def _per_call(f, n=200):
    s = _t.perf_counter()
    for _ in range(n):
        f()
    return (_t.perf_counter() - s) / n * 1e6
_finder = _per_call(lambda: pyloader._DelegatingFinder.find_spec('own7'))
_own = _per_call(lambda: pyloader._own_find_spec('own7'))
""")
root_search = root.eval("__import__('pyloader')")._own_find_spec
started = time.perf_counter()
for _ in range(200):
    root_search("own7")
print(f"child's _DelegatingFinder.find_spec('own7'): {child.eval('_finder'):.1f} us; "
      f"the child's own finders: {child.eval('_own'):.1f} us; "
      f"the root's own finders: {(time.perf_counter() - started) / 200 * 1e6:.1f} us")
child.close()
