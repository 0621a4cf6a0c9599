"""Why PyLoader's delegated modules keep the legacy load_module() protocol (PEP 451 step of
the architecture issue; docs/ARCHITECTURE.md section 8).

A delegated import must hand the child the very module object its defining loader holds,
unmodified. Under the exec_module() protocol importlib calls module_from_spec(), whose
_init_module_attrs() sets module.__spec__ to the importing side's spec unconditionally, so
the defining loader's module carries a foreign spec until exec_module() could put its own
back. This script measures that window in one interpreter: a loader whose create_module()
returns an existing module and whose exec_module() restores the original __spec__, imported
repeatedly while a second thread watches the module's __spec__.

    /usr/bin/python3 Scripts/pep451-window.py
"""
import importlib.abc
import importlib.machinery
import sys
import threading
import types

held = types.ModuleType("held")
held.__spec__ = importlib.machinery.ModuleSpec("held", None, origin="the defining loader")
original = held.__spec__


class HandOver(importlib.abc.Loader):
    def create_module(self, spec):
        return held                        # the very object the defining loader holds

    def exec_module(self, module):
        module.__spec__ = original         # put the defining loader's spec back


class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "held":
            return importlib.machinery.ModuleSpec("held", HandOver(), origin="the importing loader")
        return None


sys.meta_path.insert(0, Finder())
sys.setswitchinterval(1e-6)
seen_foreign = 0
looks = 0
stop = False


def watch():
    global seen_foreign, looks
    while not stop:
        looks += 1
        if held.__spec__ is not original:
            seen_foreign += 1


watcher = threading.Thread(target=watch)
watcher.start()
imports = 20000
for _ in range(imports):
    sys.modules.pop("held", None)
    __import__("held")
stop = True
watcher.join()
print(f"{imports} imports through exec_module(): the defining module's __spec__ was foreign "
      f"in {seen_foreign} of {looks} looks by another thread")
print(f"after the last import, __spec__ is the original: {held.__spec__ is original}")
