"""A test that leaves its object in a module of the root: pyloader test reports it when the
test loader closes (issue 10's leak report)."""
import unittest

import leakreg


class Thing:
    pass


class Leaks(unittest.TestCase):
    def test_registers_an_object_and_forgets_it(self):
        leakreg.items.append(Thing())
        self.assertEqual(len(leakreg.items), 1)
