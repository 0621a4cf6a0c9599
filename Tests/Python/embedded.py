"""Loads one of PyLoader's own Python files (Sources/*/Python/*.py) into a fresh
namespace, as PyLoader does, with the names Swift would provide given by the test."""
import os

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(relative_path, **provided):
    """The namespace of the file at `relative_path` (from the repository's root) after
    running it with `provided` (stand-ins for the `_core_*` functions, `_ID`, ...)."""
    path = os.path.join(REPOSITORY, relative_path)
    with open(path, encoding="utf-8") as file:
        source = file.read()
    namespace = {"__name__": "_test_" + os.path.basename(path)[:-3], "__builtins__": __builtins__, **provided}
    exec(compile(source, path, "exec"), namespace)
    return namespace
