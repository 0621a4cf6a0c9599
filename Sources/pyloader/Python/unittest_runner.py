"""The unittest half of `pyloader test` (TestCommand.swift).

Made into a module inside every fresh test loader (from the copy embedded in the
`pyloader` executable, so nothing needs installing). It loads one test module with
unittest and runs it, or one of its tests, and hands the outcomes back as plain data
(lists of strings), so that nothing of the loader outlives it.

Each outcome is [test id, outcome, description, detail], where outcome is one of
"passed", "failed", "error", "skipped", "expected failure", "unexpected success", and
detail is the formatted traceback (or the skip reason).
"""
import importlib
import sys
import traceback
import unittest

from pyloader import _core_stop_requested as _stop_requested


def set_bytecode_folder(folder):
    """The test loaders import from the user's folders: leave no __pycache__ there. Their
    bytecode goes to PyLoader's cache folder instead (or, when `folder` is None, none is
    written), so that the many fresh loaders of a run, and later runs, do not compile the
    same sources again."""
    sys.pycache_prefix = folder
    sys.dont_write_bytecode = folder is None


def _flatten(suite):
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            yield from _flatten(test)
        else:
            yield test


class _Recorder(unittest.TestResult):
    """Keeps one [id, outcome, description, detail] list per outcome."""

    def __init__(self):
        self._stopped = False
        super().__init__()
        self.records = []

    # unittest's suites look at it before each test: a first Ctrl-C under
    # `pyloader test` asks for a stop, and the run ends after the current test.
    @property
    def shouldStop(self):
        return self._stopped or _stop_requested()

    @shouldStop.setter
    def shouldStop(self, value):
        self._stopped = value

    def _record(self, test, outcome, detail=""):
        self.records.append([test.id(), outcome, str(test), detail])

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failed", self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", self.errors[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._record(test, "expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, "unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._record(subtest, "failed" if failed else "error",
                         (self.failures if failed else self.errors)[-1][1])


def _user_frames(tb):
    """The traceback from the first frame that is neither this runner nor importlib."""
    while tb is not None:
        file = tb.tb_frame.f_code.co_filename
        ours = file in (_user_frames.__code__.co_filename, importlib.__file__) or file.startswith("<frozen importlib")
        if not ours:
            break
        tb = tb.tb_next
    return tb


def _load(name):
    """(suite, None), or (None, records) when the module cannot be imported."""
    try:
        module = importlib.import_module(name)
    except unittest.SkipTest as skip:
        return None, [[name, "skipped", f"{name} (the whole module)", str(skip)]]
    except (Exception, SystemExit) as error:   # KeyboardInterrupt stops the run
        detail = "".join(traceback.format_exception(type(error), error, _user_frames(error.__traceback__)))
        return None, [[name, "error", f"{name} (the module could not be imported)", detail]]
    return unittest.TestLoader().loadTestsFromModule(module, pattern="test*.py"), None


def list_tests(name):
    """(test ids in run order, []), or ([], records) when the module cannot be imported."""
    suite, records = _load(name)
    if suite is None:
        return [], records
    return [test.id() for test in _flatten(suite)], []


def run_tests(name, index=-1):
    """Runs the module's tests, or only its index-th one; returns the records."""
    suite, records = _load(name)
    if suite is None:
        return records
    if index >= 0:
        tests = list(_flatten(suite))
        if index >= len(tests):
            return [[name, "error", f"{name} (test #{index + 1})",
                     "the module has fewer tests than when it was listed\n"]]
        # A suite of one still runs setUpModule/setUpClass and their tear-downs.
        suite = unittest.TestSuite([tests[index]])
    result = _Recorder()
    suite.run(result)
    return result.records
