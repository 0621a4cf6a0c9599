import sys

import pytest


@pytest.mark.skip(reason="shown as skipped")
def test_skipped():
    raise AssertionError("never runs")


@pytest.mark.skipif(sys.version_info >= (3,), reason="always skipped on Python 3")
def test_skipped_if():
    raise AssertionError("never runs")


@pytest.mark.xfail(reason="known bug")
def test_expected_failure():
    assert 1 == 2


@pytest.mark.xfail(reason="fixed already")
def test_unexpected_pass():
    assert True


@pytest.mark.slow
def test_slow():
    assert sum(range(100)) == 4950


def test_skip_inside():
    pytest.skip("decided at run time")
