"""The controller half of `pyloader test --runner pytest`: one pytest session whose tests
run in fresh loaders.

It runs in a loader of its own (a child of --in, closed after the run) and calls
`pytest.main` with the user's arguments and one plugin, which
- lists the run's tests in a fresh loader (so no test module is imported into a loader
  that outlives the run; conftest.py files next to the rootdir are, as pytest loads them
  to read their options),
- runs each test module (--isolate module) or each test (--isolate test) in a fresh child
  of --in that imports pytest, the conftests and the code under test anew,
- feeds every report those loaders send back to this session's own hooks, as
  pytest-xdist's controller does: the terminal report, -x, --junitxml and the exit status
  are pytest's own.

The session runs on a thread of its own; the process's main thread runs the fresh loaders'
pytest, entering each from outside every loader (`MainThreadRuns`, PytestSession.swift).
So a test sees the recursion depth it has under `python -m pytest` (3.11 counts one depth
across loaders: called from inside this session, a test started about 60 levels deeper and
`sys.setrecursionlimit(100)` failed), and a Ctrl-C lands in the test, where it lands under
pytest (CPython runs signal handlers on the main thread only).
"""
import json
import sys
import threading
import time
import traceback
import warnings

import pyloader
import pytest
from _pytest.reports import CollectReport


class _Placeholder(pytest.Item):
    """A test listed in another loader: counted here, run there."""

    def runtest(self):
        raise RuntimeError("a placeholder is never run")


# Run in a fresh loader on the main thread, after the worker's source: pytest's outcome, or
# what escaped it (a second Ctrl-C while pytest ends, say), as text this loader can read.
_RUN = """\
try:
    _pyloader_result = ["returned", _pyloader_pytest_run(*_pyloader_call)]
except BaseException as _pyloader_error:
    _pyloader_result = ["raised", isinstance(_pyloader_error, KeyboardInterrupt),
                        "".join(__import__("traceback").format_exception(_pyloader_error))]
    del _pyloader_error
del _pyloader_call
"""


def _locked_lock():
    lock = threading.Lock()
    lock.acquire()
    return lock


def _wake(lock):
    try:
        lock.release()
    except RuntimeError:             # released already: its waiter has not woken yet
        pass


class MainThreadRuns:
    """Hands code to run in a fresh loader from the session's thread to the process's main
    thread, one piece at a time.

    The main thread (PytestSession.swift) asks `next_request()` for a request (its number, a
    loader's name, the code to exec there), execs the code from outside every loader, hands
    back `finish(number, failure, interrupted)`, and at the end waits in `join()`. The
    fresh loader's code (the worker's source included: `threading` then takes the main thread
    for its main thread, as under pytest) runs on the main thread only.

    A Ctrl-C that reaches the main thread while it waits here is kept in `interrupted` and
    raised in the session at its next run, as pytest raises it between tests; a second one
    before the session took the first ends the wait (the command then ends with status 130).

    What the main thread calls is safe against a KeyboardInterrupt at any bytecode (a Ctrl-C
    lands wherever the main thread is): reading the request does not consume it, and each
    step of `finish` may be done again after an interrupted call.
    """

    def __init__(self):
        self.interrupted = False     # a Ctrl-C taken while waiting, not raised in the session yet
        self.status = None           # pytest.main's, once the session ended
        self.error = None            # what escaped pytest.main, if anything
        self.thread = None           # the session's thread
        self._request = None         # (number, loader name, code) for the main thread
        self._done = (0, None, False)  # (number, failure, interrupted) of the last request run
        self._ended = False
        self._main_wake = _locked_lock()
        self._session_wake = _locked_lock()

    # -- the session's thread --

    def run(self, loader_name, code):
        """Has the main thread exec `code` in loader `loader_name`; returns when it has,
        with whether a Ctrl-C came meanwhile (the code may have reported it itself, or not
        have run at all)."""
        if self.interrupted:
            self.interrupted = False
            raise KeyboardInterrupt
        number = self._request[0] + 1 if self._request is not None else 1
        self._request = (number, loader_name, code)
        _wake(self._main_wake)
        # A blocking wait (this thread gets no KeyboardInterrupt): a thread that woke every
        # few milliseconds would take the GIL from a busy test and, on 3.11, reset the
        # request by which the interrupt watcher asks for it.
        while self._done[0] != number:
            self._session_wake.acquire()
        _, failure, interrupted = self._done
        if interrupted:
            self.interrupted = False   # the same Ctrl-C, if next_request kept it too
            return True
        if failure is not None:
            raise RuntimeError(failure)
        return False

    def end(self):
        self._ended = True
        _wake(self._main_wake)

    # -- the main thread --

    def next_request(self):
        """The next (number, loader name, code) to run, or None once the session has ended."""
        while True:
            try:
                request = self._request
                if request is not None and request[0] != self._done[0]:
                    return request
                if self._ended:
                    return None
                # Short waits: a Ctrl-C is taken between them (a blocking wait in a loader
                # other than the root is not cut short by a signal).
                self._main_wake.acquire(timeout=0.05)
            except KeyboardInterrupt:
                self._take_interrupt()

    def finish(self, number, failure, interrupted):
        """Request `number` has run; `failure` is None or why it could not run, `interrupted`
        whether a Ctrl-C came while it ran (or kept it from running)."""
        if self._done[0] != number:
            self._done = (number, failure, interrupted)
        _wake(self._session_wake)

    def join(self):
        """Waits for the session's thread to end, after next_request() said None."""
        while self.thread.is_alive():
            try:
                self.thread.join(0.05)
            except KeyboardInterrupt:
                self._take_interrupt()

    def _take_interrupt(self):
        if self.interrupted:
            raise KeyboardInterrupt   # a second Ctrl-C before the session took the first
        self.interrupted = True


class PyloaderController:
    THREAD_GRACE = 5.0

    def __init__(self, parent_name, isolation, arguments, worker_source, pycache_prefix, runs):
        self.parent_name = parent_name
        self.runs = runs
        self.isolation = isolation
        self.arguments = list(arguments)
        self.worker_source = worker_source
        self.pycache_prefix = pycache_prefix
        self.config = None
        self.units = []            # collection arguments, in run order
        self.loaders_made = 0
        self.left_open = []        # (unit, reason)
        self.leaks = []            # (unit, text)
        self.interrupted = False
        self.handler_error = None

    # -- fresh loaders --------------------------------------------------------------

    def _fresh_loader(self):
        parent = pyloader.get(self.parent_name)
        while True:
            self.loaders_made += 1
            name = f"pytest-{self.loaders_made}"
            try:
                pyloader.get(name)
            except KeyError:
                break
        # Child-first over --in's own paths: pytest, the conftests, the tests and the code
        # under test are all imported anew; what --in takes from its parents is delegated.
        return parent.child(name, paths=parent.paths, delegation="child-first")

    def _in_fresh_loader(self, mode, target, label):
        """Runs the worker in a fresh loader; [status, captured stderr]."""
        loader = self._fresh_loader()
        try:
            namespace = loader.eval("globals()")
            namespace["_pyloader_call"] = (self.arguments, mode, target, self._receive, self.pycache_prefix)
            del namespace
            if self.runs.run(loader.name, self.worker_source + "\n" + _RUN):
                self.interrupted = True
                return [2, ""]
            status, captured = self._outcome(loader)
            return [int(status), str(captured)]
        finally:
            self._close(loader, label)
            if self.handler_error is not None:
                error, self.handler_error = self.handler_error, None
                raise error

    def _outcome(self, loader):
        """What `_RUN` left in `loader`: [status, captured]; what escaped pytest raised here
        (a KeyboardInterrupt: pytest's status 2, and this session is interrupted)."""
        result = list(loader.eval("_pyloader_result"))
        if result[0] == "raised":
            if result[1]:
                self.interrupted = True
                return [int(pytest.ExitCode.INTERRUPTED), ""]
            raise RuntimeError(f"pytest in loader '{loader.name}' raised:\n{result[2]}")
        return list(result[1])

    def _close(self, loader, label):
        deadline = time.monotonic() + self.THREAD_GRACE
        while True:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", pyloader.LoaderLeakWarning)
                    loader.close()
            except RuntimeError as error:
                if "thread" not in str(error):
                    raise
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                # Threads the tests left running: the loader stays open until the process ends.
                self.left_open.append((label, str(error)))
                return
            self.leaks += [(label, str(w.message)) for w in caught
                           if issubclass(w.category, pyloader.LoaderLeakWarning)]
            return

    # -- events from the workers ----------------------------------------------------

    def _receive(self, text):
        try:
            self._handle(json.loads(text))
        except BaseException as error:   # noqa: BLE001 - raised again in this loader
            if self.handler_error is None:
                self.handler_error = error
        finally:
            sys.stdout.flush()

    def _report(self, data):
        # JSON has no tuples: a skip's longrepr (path, line, reason) and a location are ones.
        for key in ("longrepr", "location"):
            if isinstance(data.get(key), list):
                data[key] = tuple(data[key])
        return self.config.hook.pytest_report_from_serializable(config=self.config, data=data)

    def _handle(self, event):
        kind, hook = event[0], self.config.hook
        if kind == "logstart":
            hook.pytest_runtest_logstart(nodeid=event[1], location=tuple(event[2]))
        elif kind == "logreport":
            hook.pytest_runtest_logreport(report=self._report(event[1]))
        elif kind == "logfinish":
            hook.pytest_runtest_logfinish(nodeid=event[1], location=tuple(event[2]))
        elif kind == "collectreport":
            self.collect_reports.append(self._report(event[1]))
        elif kind == "items":
            self.items = event[1]
        elif kind == "deselected":
            self.deselected += event[1]
        elif kind == "warning":
            data = event[1]
            category = _warning_category(*data["category"])
            message = warnings.WarningMessage(category(data["message"]), category, data["filename"], data["lineno"])
            # A historic hook (plugins registered later see it too), as pytest-xdist calls it.
            hook.pytest_warning_recorded.call_historic(kwargs=dict(
                warning_message=message, when=data["when"], nodeid=data["nodeid"],
                location=None if data["location"] is None else tuple(data["location"])))
        elif kind == "usage_error":
            self.usage_error = event[1]
        elif kind == "interrupted":
            self.interrupted = True
        elif kind == "internal_error":
            self.internal_errors.append(event[1])

    # -- the session ----------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_cmdline_main(self, config):
        self.config = config
        if config.option.collectonly or config.option.showfixtures or config.option.show_fixtures_per_test:
            # pytest's own output, from one fresh loader: nothing runs, nothing to merge.
            loader = self._fresh_loader()
            try:
                namespace = loader.eval("globals()")
                namespace["_pyloader_call"] = (self.arguments,)
                del namespace
                collect_only = _RUN.replace("_pyloader_pytest_run(*_pyloader_call)",
                                            "[int(pytest.main(list(_pyloader_call[0]))), '']")
                if self.runs.run(loader.name, self.worker_source + "\n" + collect_only):
                    return int(pytest.ExitCode.INTERRUPTED)
                return int(self._outcome(loader)[0])
            finally:
                self._close(loader, "collection")
        return None

    # Not tryfirst: the terminal reporter's pytest_collection ("collecting ...") runs first,
    # pytest's own (registered before this plugin) never does.
    def pytest_collection(self, session):
        self.collect_reports, self.items, self.deselected = [], [], []
        self.usage_error, self.internal_errors = None, []
        status, captured = self._in_fresh_loader("list", None, "collection")
        if self.usage_error is not None:
            raise pytest.UsageError(*self.usage_error)
        if self.interrupted:
            raise KeyboardInterrupt
        if status not in (0, 1, 2, 5) or self.internal_errors:
            detail = "\n".join(self.internal_errors) or captured or f"pytest exited with status {status}"
            self.collect_reports.append(CollectReport("", "failed", f"collecting the tests failed:\n{detail}", []))
        hook = self.config.hook
        for report in self.collect_reports:
            hook.pytest_collectreport(report=report)
        placeholders = [_Placeholder.from_parent(session, name=nodeid, nodeid=nodeid) for _, nodeid in self.items]
        deselected = [_Placeholder.from_parent(session, name=nodeid, nodeid=nodeid) for nodeid in self.deselected]
        # Counted as pytest counts them: collected (deselected included), then deselected.
        hook.pytest_collectreport(report=CollectReport("", "passed", None, placeholders + deselected))
        if deselected:
            hook.pytest_deselected(items=deselected)
        session.items = placeholders
        session.testscollected = len(placeholders)
        # The units: one per test file (in the order listed), or one per test.
        if self.isolation == "module":
            seen = {}
            for path, _ in self.items:
                seen.setdefault(path, None)
            self.units = list(seen)
        else:
            self.units = [path + nodeid[len(nodeid.split("::")[0]):] for path, nodeid in self.items]
        hook.pytest_collection_finish(session=session)
        return True

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            raise session.Interrupted(
                f"{session.testsfailed} error{'s' if session.testsfailed != 1 else ''} during collection")
        for unit in self.units:
            self.usage_error, self.internal_errors, self.collect_reports = None, [], []
            status, _ = self._in_fresh_loader("run", unit, unit)
            for report in self.collect_reports:
                self.config.hook.pytest_collectreport(report=report)
            if self.interrupted:
                raise KeyboardInterrupt
            if self.internal_errors or status not in (0, 1, 2, 5):
                detail = "\n".join(self.internal_errors) or f"pytest exited with status {status}"
                self.config.hook.pytest_collectreport(
                    report=CollectReport(unit, "failed", f"running {unit} failed:\n{detail}", []))
            if session.shouldfail:
                raise session.Failed(session.shouldfail)
            if session.shouldstop:
                raise session.Interrupted(session.shouldstop)
        return True

    def pytest_terminal_summary(self, terminalreporter):
        if not self.leaks and not self.left_open:
            return
        terminalreporter.section("pyloader")
        for unit, reason in self.left_open:
            terminalreporter.line(f"{unit}: left open, threads its tests started still ran after "
                                  f"{self.THREAD_GRACE:.0f} s: {reason}")
        for unit, text in self.leaks:
            terminalreporter.line(f"{unit}: a reference outlived its loader: {text}")


def _warning_category(module, qualname):
    import builtins
    import importlib
    try:
        value = builtins if module == "builtins" else importlib.import_module(module)
        for part in qualname.split("."):
            value = getattr(value, part)
        if isinstance(value, type) and issubclass(value, Warning):
            return value
    except Exception:   # noqa: BLE001 - a category this loader cannot import
        pass
    return UserWarning


def start(arguments, parent_name, isolation, worker_source, pycache_prefix):
    """Starts the session on a thread of its own; the main thread serves the returned
    MainThreadRuns until `next_request()` says None, then reads `status` (or `error`)."""
    # As under `python -m pytest`: usage messages say "pytest".
    sys.argv = ["pytest", *arguments]
    runs = MainThreadRuns()
    controller = PyloaderController(parent_name, isolation, arguments, worker_source, pycache_prefix, runs)

    def session():
        # Signals are the main thread's (Interrupts.swift): blocked here, the kernel hands a
        # process-wide SIGINT to a thread that takes it instead of interrupting this one's
        # waits (AddressSanitizer's interceptor of a timed wait failed a CHECK when one
        # landed here).
        try:
            import signal
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
        except (ImportError, OSError, ValueError):
            pass
        try:
            runs.status = int(pytest.main(list(arguments), plugins=[controller]))
        except KeyboardInterrupt:
            # A Ctrl-C raised where pytest does not handle it (its pytest_cmdline_main hooks).
            runs.status = int(pytest.ExitCode.INTERRUPTED)
        except BaseException as error:   # noqa: BLE001 - handed to the main thread
            runs.error = "".join(traceback.format_exception(error))
        finally:
            runs.end()

    runs.thread = threading.Thread(target=session, name="pytest session", daemon=True)
    runs.thread.start()
    return runs
