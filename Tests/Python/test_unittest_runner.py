"""The outcome records of Sources/pyloader/Python/unittest_runner.py (`pyloader test`)."""
import sys
import types
import unittest

from embedded import load

RUNNER = "Sources/pyloader/Python/unittest_runner.py"


def _sample_case():
    """A TestCase with every outcome (made here so that test discovery does not run it)."""

    class _Sample(unittest.TestCase):
        def test_passes(self):
            pass

        def test_fails(self):
            self.assertEqual(1, 2)

        def test_errors(self):
            raise KeyError("boom")

        @unittest.skip("not today")
        def test_skipped(self):
            pass

        @unittest.expectedFailure
        def test_expected_failure(self):
            self.fail()

        @unittest.expectedFailure
        def test_unexpected_success(self):
            pass

        def test_sub_tests(self):
            for value in (1, 2):
                with self.subTest(value=value):
                    self.assertEqual(value, 1)

    return _Sample


class RecorderTests(unittest.TestCase):
    def setUp(self):
        self.runner = load(RUNNER)
        module = types.ModuleType("_pyloader_runner_sample")
        module._Sample = _sample_case()
        module._Sample.__module__, module._Sample.__qualname__ = module.__name__, "_Sample"
        sys.modules[module.__name__] = module
        self.addCleanup(sys.modules.pop, module.__name__)

    def test_every_outcome_is_recorded_with_its_detail(self):
        records = self.runner["run_tests"]("_pyloader_runner_sample")
        outcomes = {record[0].rpartition(".")[2]: record[1] for record in records}
        self.assertEqual(outcomes["test_passes"], "passed")
        self.assertEqual(outcomes["test_fails"], "failed")
        self.assertEqual(outcomes["test_errors"], "error")
        self.assertEqual(outcomes["test_skipped"], "skipped")
        self.assertEqual(outcomes["test_expected_failure"], "expected failure")
        self.assertEqual(outcomes["test_unexpected_success"], "unexpected success")
        sub_tests = [record for record in records if "(value=2)" in record[0]]
        self.assertEqual([record[1] for record in sub_tests], ["failed"])
        failed = next(record for record in records if record[0].endswith("test_fails"))
        self.assertIn("AssertionError: 1 != 2", failed[3])
        skipped = next(record for record in records if record[0].endswith("test_skipped"))
        self.assertEqual(skipped[3], "not today")

    def test_one_test_by_index(self):
        ids, problems = self.runner["list_tests"]("_pyloader_runner_sample")
        self.assertEqual(problems, [])
        index = ids.index("_pyloader_runner_sample._Sample.test_passes")
        records = self.runner["run_tests"]("_pyloader_runner_sample", index)
        self.assertEqual([record[1] for record in records], ["passed"])
        records = self.runner["run_tests"]("_pyloader_runner_sample", len(ids))
        self.assertEqual([record[1] for record in records], ["error"])
        self.assertIn("fewer tests than when it was listed", records[0][3])

    def test_a_module_that_cannot_be_imported_is_one_error_with_its_own_frames(self):
        ids, problems = self.runner["list_tests"]("_pyloader_no_such_module_here")
        self.assertEqual(ids, [])
        [[name, outcome, description, detail]] = problems
        self.assertEqual((name, outcome), ("_pyloader_no_such_module_here", "error"))
        self.assertIn("could not be imported", description)
        self.assertIn("ModuleNotFoundError", detail)
        self.assertNotIn("importlib", detail)

    def test_bytecode_folder(self):
        saved = sys.pycache_prefix, sys.dont_write_bytecode
        self.addCleanup(lambda: (setattr(sys, "pycache_prefix", saved[0]),
                                 setattr(sys, "dont_write_bytecode", saved[1])))
        self.runner["set_bytecode_folder"](None)
        self.assertTrue(sys.dont_write_bytecode)
        self.runner["set_bytecode_folder"]("/tmp/somewhere")
        self.assertEqual(sys.pycache_prefix, "/tmp/somewhere")
        self.assertFalse(sys.dont_write_bytecode)


if __name__ == "__main__":
    unittest.main()
