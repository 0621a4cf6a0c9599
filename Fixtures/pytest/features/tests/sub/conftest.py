import pytest


@pytest.fixture
def overridden(overridden):
    return overridden + " and sub"
