"""A Ctrl-C that lands in a weakref callback is delivered again after it, in the root and
in a child loader, with CPython's own sys.unraisablehook and with one written in Python
(as pytest's is). A Ctrl-C lands at whichever bytecode the main thread runs; in a weakref
callback (importlib's module-lock callback runs on every import), a `__del__` or a GC
callback, CPython can only report it as unraisable and carry on, and python3 loses it
there. This raises it in such a callback on purpose, once per case, and prints
"<loader> <hook>: delivered" or "... lost" (or "... raised in the hook")."""
import pyloader

PROBE = """
import sys
import time
import weakref


class Thing:
    pass


def _where_the_ctrl_c_lands(ref):
    raise KeyboardInterrupt


_reported = []


def _python_hook(unraisable):
    # Python code runs here: the interrupt must wait until the hook has returned.
    for _ in range(100_000):
        pass
    _reported.append(unraisable.exc_type.__name__)


def probe(use_python_hook):
    saved = sys.unraisablehook
    if use_python_hook:
        sys.unraisablehook = _python_hook
    thing = Thing()
    ref = weakref.ref(thing, _where_the_ctrl_c_lands)
    try:
        try:
            del thing   # the callback runs here; CPython writes its KeyboardInterrupt off
        except KeyboardInterrupt:
            return "raised in the hook"
        # In a child, PyLoader's watcher thread may deliver it: give it time.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pass
        return "lost"
    except KeyboardInterrupt:
        if use_python_hook and _reported != ["KeyboardInterrupt"]:
            return f"delivered, but the hook saw {_reported}"
        return "delivered"
    finally:
        sys.unraisablehook = saved
"""

namespace = {}
exec(PROBE, namespace)
child = pyloader.current().child("callbacks")
child.exec(PROBE)
for use_python_hook in (False, True):
    hook = "python hook" if use_python_hook else "default hook"
    print("root", hook + ":", namespace["probe"](use_python_hook), flush=True)
    print("child", hook + ":", child.eval(f"probe({use_python_hook})"), flush=True)
child.close()
