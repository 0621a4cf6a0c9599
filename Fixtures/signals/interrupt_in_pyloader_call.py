"""A KeyboardInterrupt that lands in one of PyLoader's own best-effort calls into Python
(here: reading the root's finders for a parent-first child's question "can you provide
mymod?") is delivered again, not eaten. A Ctrl-C lands at whichever bytecode the main
thread runs; this raises it there on purpose, once. Prints "delivered" or "lost"."""
import os
import sys
import tempfile

import pyloader


class InterruptOnce(dict):
    """A path importer cache whose get() raises KeyboardInterrupt once, when armed (only
    PyLoader's reading of the finders' state calls get(); importlib indexes it)."""
    armed = False

    def get(self, *args):
        if InterruptOnce.armed:
            InterruptOnce.armed = False
            raise KeyboardInterrupt
        return super().get(*args)


folder = tempfile.mkdtemp()
with open(os.path.join(folder, "mymod.py"), "w") as file:
    file.write("X = 1\n")
sys.path_importer_cache = InterruptOnce(sys.path_importer_cache)
child = pyloader.root().child("plugin", paths=[folder], delegation="parent-first")
try:
    InterruptOnce.armed = True
    child.exec("import mymod")
    assert not InterruptOnce.armed, "the finders' state was not read: the scenario did not happen"
    for _ in range(5_000_000):
        pass
    print("lost")
except KeyboardInterrupt:
    print("delivered")
finally:
    child.close()
