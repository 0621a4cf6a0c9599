"""Interfering suite: mutates module state and json.dumps and never restores them (runs first)."""

import json
import unittest

import sharedstate


class MutatesSharedState(unittest.TestCase):
    def test_bumps_counter(self):
        sharedstate.COUNTER += 1
        self.assertGreaterEqual(sharedstate.COUNTER, 1)

    def test_mutates_config(self):
        sharedstate.CONFIG["mode"] = "mutated"
        self.assertEqual(sharedstate.CONFIG["mode"], "mutated")

    def test_patches_json_dumps(self):
        json.dumps = lambda *a, **k: "patched"  # deliberately not restored
        self.assertEqual(json.dumps([1]), "patched")

    def test_skipped(self):
        self.skipTest("deliberately skipped")
