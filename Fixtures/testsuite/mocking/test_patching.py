"""mock.patch inside a fresh test loader patches that loader's modules (unittest is shared from the parent)."""
import json
import unittest
from unittest import mock


class PatchTargetsThisLoader(unittest.TestCase):
    def test_patch_replaces_the_json_this_test_uses(self):
        with mock.patch("json.dumps", return_value="patched"):
            self.assertEqual(json.dumps([1]), "patched")
        self.assertEqual(json.dumps([1]), "[1]")

    def test_patch_object_on_a_local_module(self):
        import sharedhelper
        with mock.patch.object(sharedhelper, "VALUE", 2):
            self.assertEqual(sharedhelper.VALUE, 2)
        self.assertEqual(sharedhelper.VALUE, 1)
