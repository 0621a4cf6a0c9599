import time
import unittest


class Slow(unittest.TestCase):
    def test_a(self):
        print("started", flush=True)   # for SignalTests
        time.sleep(0.5)

    def test_b(self):
        time.sleep(0.5)
