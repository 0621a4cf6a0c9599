"""The steps of Sources/PyLoader/Python/interpreter_setup.py."""
import os
import sys
import tempfile
import threading
import time
import unittest

from embedded import load

SETUP = "Sources/PyLoader/Python/interpreter_setup.py"


class AddSiteDirsTests(unittest.TestCase):
    def setUp(self):
        self.saved_path = list(sys.path)
        self.addCleanup(setattr, sys, "path", self.saved_path)
        self.setup = load(SETUP)

    def test_pth_files_are_processed_and_folders_not_added_twice(self):
        with tempfile.TemporaryDirectory() as folder:
            extra = os.path.join(folder, "extra")
            os.mkdir(extra)
            with open(os.path.join(folder, "extra.pth"), "w") as pth:
                pth.write("extra\n")
            self.setup["add_site_dirs"]([folder, folder])
            self.assertEqual(sys.path.count(folder), 1)
            self.assertIn(extra, sys.path)


class JoinThreadsTests(unittest.TestCase):
    def setUp(self):
        self.setup = load(SETUP)

    def test_non_daemon_threads_are_joined(self):
        release = threading.Event()
        worker = threading.Thread(target=lambda: release.wait(5))
        worker.start()
        threading.Timer(0.05, release.set).start()
        self.setup["join_threads"](5.0)
        self.assertFalse(worker.is_alive())

    def test_the_timeout_bounds_the_wait_and_daemon_threads_are_not_waited_for(self):
        release = threading.Event()
        self.addCleanup(release.set)
        stuck = threading.Thread(target=lambda: release.wait(10))
        daemon = threading.Thread(target=lambda: release.wait(10), daemon=True)
        stuck.start()
        daemon.start()
        started = time.monotonic()
        self.setup["join_threads"](0.2)
        waited = time.monotonic() - started
        self.assertTrue(stuck.is_alive())
        self.assertGreaterEqual(waited, 0.15)
        self.assertLess(waited, 5.0)


if __name__ == "__main__":
    unittest.main()
