def test_conftest_below_overrides(overridden, package_resource):
    assert overridden == "top and sub"
    assert package_resource == "package"
