"""Passes only when test_a_pollutes.py's changes did not reach this module's interpreter."""
import sys

import helper


def test_no_state_from_another_module():
    assert "left_behind" not in sys.modules
    assert helper.CALLS == []
