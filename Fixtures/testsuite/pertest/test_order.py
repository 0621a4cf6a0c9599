"""Per-test suite: test_b fails after test_a in one interpreter; passes with --isolate test."""

import unittest

import sharedstate


class OrderDependent(unittest.TestCase):
    def test_a_mutates(self):
        sharedstate.COUNTER += 1
        self.assertEqual(sharedstate.COUNTER, 1)

    def test_b_expects_pristine(self):
        self.assertEqual(sharedstate.COUNTER, 0)

    def test_c_skipped(self):
        self.skipTest("deliberately skipped")
