"""A test that leaves a daemon thread running, as a process pool never shut down does (found
with Pebble's suite): python3 would end it at exit; pyloader test keeps the fresh loader
open, says so, and counts the test as the test itself went."""
import threading
import unittest

_forever = threading.Event()


class LeavesAThread(unittest.TestCase):
    def test_starts_a_daemon_thread(self):
        threading.Thread(target=_forever.wait, daemon=True, name="left-running").start()
        self.assertTrue(True)
