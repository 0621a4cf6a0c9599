"""The worker half of `pyloader test --runner pytest`: runs pytest inside one fresh loader.

Executed in the fresh loader's __main__ on the main thread (the controller hands it over:
MainThreadRuns, PytestSession.serve, which runs it through Loader.exec), it
defines one function, `_pyloader_pytest_run`, which runs `pytest.main` with the user's
arguments and hands every outcome to the controller as a JSON text: nothing of this
loader outlives it. Modes:

- "list": collect only (every test module of the run imported here, in a loader closed
  afterwards); sends the items, the deselected ids and the collection errors.
- "run": collect and run one collection argument (a test module's path, or one test's
  id); sends each test's start, reports and finish, and the warnings.

Like a pytest-xdist worker (`config.workerinput` is set, so junitxml, the cache and other
plugins leave the run's files to the controller), its own terminal output is dropped: the
controller prints the one report.
"""
import importlib.machinery
import io
import json
import sys

import pytest
from _pytest.config import create_terminal_writer

# Bound now: a test may replace json.dumps in this loader.
_dumps = json.dumps


class _PyloaderWorker:
    def __init__(self, mode, target, emit):
        self.mode = mode
        self.target = target
        self.emit = emit
        self.config = None

    def send(self, *event):
        # What the tests printed (-s) reaches the terminal before the controller's next line.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:   # noqa: BLE001 - a test may have closed or replaced it
                pass
        self.emit(_dumps(event, default=repr))

    def serialize(self, report):
        return self.config.hook.pytest_report_to_serializable(config=self.config, report=report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_cmdline_main(self, config):
        self.config = config
        # pytest-xdist's mark of a worker: plugins that write the run's files (junitxml,
        # the last-failed cache, stepwise) leave them to the controller.
        config.workerinput = {"workerid": "pyloader", "workercount": 1, "testrunuid": "pyloader"}
        config.workeroutput = {}

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config):
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter._tw = create_terminal_writer(config, io.StringIO())
        if self.target is not None:
            config.args = [self.target]

    @pytest.hookimpl(wrapper=True)
    def pytest_collection(self, session):
        try:
            return (yield)
        except pytest.UsageError as error:   # a path that does not exist, for one
            self.send("usage_error", [str(arg) for arg in error.args])
            raise

    def pytest_collectreport(self, report):
        if not report.passed:
            self.send("collectreport", self.serialize(report))

    def pytest_deselected(self, items):
        if self.mode == "list":
            self.send("deselected", [item.nodeid for item in items])

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session):
        if self.mode == "list":
            self.send("items", [[str(item.path), item.nodeid] for item in session.items])

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        if self.mode == "list":
            return True
        return None

    def pytest_runtest_logstart(self, nodeid, location):
        self.send("logstart", nodeid, location)

    def pytest_runtest_logreport(self, report):
        self.send("logreport", self.serialize(report))

    def pytest_runtest_logfinish(self, nodeid, location):
        self.send("logfinish", nodeid, location)

    def pytest_warning_recorded(self, warning_message, when, nodeid, location):
        category = warning_message.category
        self.send("warning", {
            "message": str(warning_message.message),
            "category": [category.__module__, category.__qualname__],
            "filename": warning_message.filename, "lineno": warning_message.lineno,
            "when": when, "nodeid": nodeid, "location": location,
        })

    def pytest_keyboard_interrupt(self, excinfo):
        self.send("interrupted")

    def pytest_internalerror(self, excrepr, excinfo):
        self.send("internal_error", str(excrepr))


def _pyloader_pytest_run(arguments, mode, target, emit, pycache_prefix):
    """pytest.main(arguments) in this loader; its exit status, and (list mode) what it
    wrote to stderr."""
    # Fresh loaders import from the user's folders: their bytecode (assertion rewriting's
    # included) goes to PyLoader's cache folder, or is not written.
    sys.pycache_prefix = pycache_prefix
    sys.dont_write_bytecode = pycache_prefix is None
    sys.argv = ["pytest", *arguments]
    # This loader's __main__ is a bare module whose repr asks BuiltinImporter.module_repr,
    # which 3.11 deprecates: a test that prints sys.modules would see a warning that
    # `python -m pytest` (whose __main__ has a spec) does not show.
    main = sys.modules["__main__"]
    if getattr(main, "__spec__", None) is None:
        main.__spec__ = importlib.machinery.ModuleSpec("__main__", importlib.machinery.BuiltinImporter,
                                                       origin="built-in")
    plugin = _PyloaderWorker(mode, target, emit)
    saved_stderr = sys.stderr
    if mode == "list":
        # The controller reports what the listing found; pytest's own complaints are kept.
        sys.stderr = io.StringIO()
    try:
        status = int(pytest.main(list(arguments), plugins=[plugin]))
    finally:
        captured = sys.stderr.getvalue() if mode == "list" else ""
        sys.stderr = saved_stderr
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:   # noqa: BLE001
                pass
    return [status, captured]
