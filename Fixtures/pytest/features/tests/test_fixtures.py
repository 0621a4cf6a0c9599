import pytest


def test_every_scope(session_resource, package_resource, module_resource, function_resource):
    assert session_resource["name"] == "session"
    assert package_resource == "package"
    assert module_resource == __name__
    function_resource.append(1)
    assert function_resource == [1]


def test_module_fixture_set_up_once_per_module(module_resource, setups):
    assert setups.count("module " + __name__) == 1


@pytest.mark.usefixtures("class_resource")
class TestClassScope:
    def test_first(self, class_resource):
        class_resource.append("first")
        assert class_resource == ["first"]

    def test_second(self, class_resource):
        # The same list: one set-up per class.
        assert class_resource == ["first"]


def test_parametrized_fixture(number):
    assert number in (1, 2)


def test_fixture_from_conftest_above(overridden):
    assert overridden == "top"


@pytest.fixture
def tmp_file(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("hello")
    yield path
    path.unlink()


def test_builtin_fixtures(tmp_file, capsys, monkeypatch):
    monkeypatch.setenv("PYLOADER_FIXTURE", "set")
    import os
    print("to stdout", os.environ["PYLOADER_FIXTURE"])
    assert tmp_file.read_text() == "hello"
    assert capsys.readouterr().out == "to stdout set\n"
