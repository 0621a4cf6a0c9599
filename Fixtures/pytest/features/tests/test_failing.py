import logging
import warnings

import pytest


def compute():
    return 3


def test_assertion_is_rewritten():
    assert compute() == 4


@pytest.fixture
def broken():
    raise RuntimeError("fixture set-up failed")


def test_error_in_fixture(broken):
    pass


def test_warning_is_reported():
    warnings.warn("a warning from a test", UserWarning)


def test_raises_and_warns(caplog):
    with pytest.raises(ZeroDivisionError):
        1 / 0
    with pytest.warns(DeprecationWarning):
        warnings.warn("old", DeprecationWarning)
    logging.getLogger("features").warning("logged")
    assert "logged" in caplog.text
