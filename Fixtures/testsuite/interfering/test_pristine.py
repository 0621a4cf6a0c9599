"""Interfering suite: passes only if test_mutates did not run earlier in the same interpreter."""

import json
import unittest

import sharedstate


class SeesPristineState(unittest.TestCase):
    def test_counter_untouched(self):
        self.assertEqual(sharedstate.COUNTER, 0)

    def test_config_untouched(self):
        self.assertEqual(sharedstate.CONFIG["mode"], "pristine")

    def test_json_dumps_untouched(self):
        self.assertEqual(json.dumps([1]), "[1]")
