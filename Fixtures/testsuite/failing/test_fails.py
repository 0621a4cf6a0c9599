"""Failing suite: one passing test and one deliberately failing test."""

import unittest


class Mixed(unittest.TestCase):
    def test_passes(self):
        self.assertEqual(1 + 1, 2)

    def test_fails(self):
        self.assertEqual(1 + 1, 3, "deliberate failure")
