"""The stress run driven from Python threads (issue 11), run in the root loader.

usage: python_threads.py SEED OPS_PER_THREAD [THREADS] [--with-host]

--with-host: a host (PythonThreadStressTests, in Swift) enters the same loaders meanwhile;
when the threads are done the script sets sys._stress_phase = "checking" and waits (at most
60 s) for the host to set sys._stress_host_stopped before it checks and closes everything.

8 `threading` threads apply seeded random operations to a pool of at least 20 loaders
(children of the root, and children of those up to three levels deep): eval, exec,
imports, cross-loader calls, context-loader blocks, child creation and close, from any
thread, with no lock around close, so closes race entries, other closes, and running
descendants. An operation may fail only in the ways the contract allows: a closed or
closing loader raises LoaderClosedError (or ImportError naming it, for an import that
reaches a closed loader's hook), a busy close raises RuntimeError saying why. Anything
else is a violation. After the run the invariants are checked and the script prints one
summary line; exit status 0 when there were no violations.
"""
import importlib
import os
import random
import sys
import threading
import time

import pyloader

WITH_HOST = "--with-host" in sys.argv
ARGS = [a for a in sys.argv[1:] if a != "--with-host"]
SEED = int(ARGS[0]) if len(ARGS) > 0 else 0x5EED
OPS = int(ARGS[1]) if len(ARGS) > 1 else 300
THREADS = int(ARGS[2]) if len(ARGS) > 2 else 8
SLOTS = 24

root = pyloader.root()
slots = [None] * SLOTS
slots_lock = threading.Lock()   # guards the slot table only, never a PyLoader call
made = []                       # every loader ever made, for the final checks
names = iter(range(1_000_000))
violations = []
counts = {}


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def new_name():
    with slots_lock:
        return f"pt-{SEED:x}-{next(names)}"


def make(parent):
    name = new_name()
    loader = parent.child(name)
    with slots_lock:
        made.append((name, loader))
    return loader


def expected(error):
    """Whether an exception is one the contract allows for an operation racing a close."""
    text = str(error)
    # Any loader's LoaderClosedError: each loader has its own pyloader module, and an
    # exception raised by code in another loader reaches us as that loader's class.
    if any(c.__name__ == "LoaderClosedError" and c.__module__ == "pyloader" for c in type(error).__mro__):
        return True
    if isinstance(error, ImportError) and "is closed" in text:
        return True
    if isinstance(error, RuntimeError) and ("cannot be closed" in text or "busy" in text
                                            or "running" in text or "context loader" in text):
        return True
    return False


def pick(rng):
    with slots_lock:
        index = rng.randrange(SLOTS)
        return index, slots[index]


def op_eval(rng, loader):
    assert loader.eval("6 * 7") == 42


# No package together with its submodule ("import json.decoder" beside "import json"): two
# threads importing both at once in one interpreter can get CPython 3.11's own
# _DeadlockError from importlib's module locks, with or without PyLoader.
def op_exec_import(rng, loader):
    loader.exec(rng.choice(["import json", "import textwrap", "import colorsys", "from collections import OrderedDict"]))


def op_import_module(rng, loader):
    module = loader.import_module(rng.choice(["json", "string", "textwrap"]))
    assert pyloader.defining_loader(module) == loader, (module, loader)


def op_cross_call(rng, loader):
    _, other = pick(rng)
    if other is None:
        return
    # Code in `loader` calls into `other`, which evaluates and comes back.
    # `other` may close meanwhile: get() then raises KeyError, which is that race.
    loader.exec(f"import pyloader\ntry:\n    _o = pyloader.get({other.name!r})\nexcept KeyError:\n"
                f"    raise pyloader.LoaderClosedError('closed meanwhile')\n_r = _o.eval('2 + 3')\nassert _r == 5")


def op_context(rng, loader):
    with pyloader.context(loader):
        module = importlib.import_module("json")
    assert pyloader.defining_loader(module) == loader


def op_create(rng, loader):
    index, _ = pick(rng)
    parent = root
    if loader is not None and rng.random() < 0.5:
        depth = 0
        walk = loader
        while walk.parent is not None:
            depth, walk = depth + 1, walk.parent
        if depth < 3:
            parent = loader
    child = make(parent)
    with slots_lock:
        if slots[index] is None or slots[index].closed:
            slots[index] = child
            return
    child.close()


def op_close(rng, loader):
    loader.close()
    assert loader.closed


def op_nested_busy(rng, loader):
    # A descendant runs code on this thread while we close its ancestor from inside it:
    # always refused, never a crash.
    inner = make(loader)
    try:
        inner.exec(f"import pyloader\ntry:\n    pyloader.get({loader.name!r}).close()\n"
                   f"except RuntimeError as e:\n    _refused = str(e)\nelse:\n    _refused = None")
        assert inner.eval("_refused") is not None, "closing an ancestor from inside a descendant was not refused"
    finally:
        inner.close()


OPERATIONS = [(op_eval, 30), (op_exec_import, 15), (op_import_module, 10), (op_cross_call, 12),
              (op_context, 8), (op_create, 10), (op_close, 10), (op_nested_busy, 5)]
TABLE = [op for op, weight in OPERATIONS for _ in range(weight)]


def worker(number):
    rng = random.Random(SEED * 1000 + number)
    for _ in range(OPS):
        operation = rng.choice(TABLE)
        _, loader = pick(rng)
        if loader is None and operation is not op_create:
            operation = op_create
        try:
            operation(rng, loader)
            outcome = operation.__name__
        except Exception as error:   # noqa: BLE001 - sorted into allowed and violations below
            if loader is not None and expected(error):
                outcome = operation.__name__ + " raced"
            else:
                with slots_lock:
                    violations.append(f"{operation.__name__} on {loader!r}: {type(error).__name__}: {error}")
                outcome = operation.__name__ + " VIOLATION"
        with slots_lock:
            counts[outcome] = counts.get(outcome, 0) + 1


def main():
    for index in range(SLOTS):
        slots[index] = make(root if index < 12 else slots[index - 12])
    before = rss_kib()
    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,), name=f"stress-{n}") for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    if WITH_HOST:
        sys._stress_phase = "checking"
        deadline = time.monotonic() + 60
        while not getattr(sys, "_stress_host_stopped", False) and time.monotonic() < deadline:
            time.sleep(0.01)

    # Invariants: every loader ever made is either usable or closed (and then every use
    # raises LoaderClosedError); closed ones are gone from the tree; nothing half-closed.
    live = {loader.name for loader in pyloader.loaders()}
    usable = closed = 0
    for name, loader in made:
        if loader.closed:
            closed += 1
            if name in live and pyloader.get(name) == loader:
                violations.append(f"{loader!r} is closed but still in the tree")
            try:
                loader.eval("1")
            except pyloader.LoaderClosedError:
                pass
            else:
                violations.append(f"{loader!r} is closed but still evaluates")
        else:
            usable += 1
            if name not in live:
                violations.append(f"{loader!r} is open but not in the tree")
            try:
                assert loader.eval("6 * 7") == 42
            except Exception as error:   # noqa: BLE001
                violations.append(f"{loader!r} is open but unusable: {type(error).__name__}: {error}")
    grown = rss_kib() - before
    # Close what is left, deepest first, so the process can end normally.
    def depth(loader):
        return 0 if loader.parent is None else 1 + depth(loader.parent)

    for loader in sorted((l for _, l in made if not l.closed), key=depth, reverse=True):
        try:
            loader.close()
        except Exception as error:   # noqa: BLE001
            violations.append(f"final close of {loader!r}: {type(error).__name__}: {error}")
    summary = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    print(f"python-thread stress: seed {SEED:#x}, {THREADS} threads x {OPS} operations in {elapsed:.1f} s; "
          f"{len(made)} loaders made ({usable} usable, {closed} closed at the end); RSS grew {grown} KiB; {summary}")
    for violation in violations[:20]:
        print("VIOLATION:", violation)
    print(f"violations: {len(violations)}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
