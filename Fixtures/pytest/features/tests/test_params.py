import pytest


@pytest.mark.parametrize("value, expected", [(1, 2), (2, 3), (10, 11)])
def test_increment(value, expected):
    assert value + 1 == expected


@pytest.mark.parametrize("x", [0, 1])
@pytest.mark.parametrize("y", [2, 3])
def test_stacked(x, y):
    assert x < y


@pytest.mark.parametrize("word", ["a", pytest.param("b", marks=pytest.mark.slow), "c"], ids=str.upper)
def test_ids(word):
    assert word.islower()
