"""Two tests that share state within one interpreter: the first leaves a module in
sys.modules and changes a helper module's global; the second expects neither. Plain pytest
fails the second (and test_b_clean.py); a fresh loader per test passes both."""
import sys

import helper


def test_leaves_state_behind():
    sys.modules["left_behind"] = type(sys)("left_behind")
    helper.CALLS.append("test_leaves_state_behind")
    assert helper.CALLS == ["test_leaves_state_behind"]


def test_sees_fresh_state():
    assert "left_behind" not in sys.modules
    assert helper.CALLS == []
