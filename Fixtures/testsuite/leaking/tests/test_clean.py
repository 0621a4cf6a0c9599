import unittest

import leakreg


class Clean(unittest.TestCase):
    def test_reads_only(self):
        self.assertIsInstance(leakreg.items, list)
