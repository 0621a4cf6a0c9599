"""Fixtures of every scope; each records its set-ups so the tests can check the scoping."""
import pytest

SETUPS = []


@pytest.fixture(scope="session")
def session_resource():
    SETUPS.append("session")
    yield {"name": "session"}
    SETUPS.append("session teardown")


@pytest.fixture(scope="package")
def package_resource():
    SETUPS.append("package")
    return "package"


@pytest.fixture(scope="module")
def module_resource(request):
    SETUPS.append("module " + request.module.__name__)
    return request.module.__name__


@pytest.fixture(scope="class")
def class_resource():
    SETUPS.append("class")
    return []


@pytest.fixture
def function_resource():
    return []


@pytest.fixture(params=[1, 2], ids=["one", "two"])
def number(request):
    return request.param


@pytest.fixture
def setups():
    return SETUPS


@pytest.fixture
def overridden():
    return "top"
