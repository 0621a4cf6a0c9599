"""Host API shared with every plugin: the Plugin base class and the plugin registry."""

from .registry import clear, plugins, register

__version__ = "1.0"

__all__ = ["Plugin", "register", "plugins", "clear", "describe", "__version__"]


class Plugin:
    """Base class for plugins; subclasses set `name` and implement `greet`."""

    name = "unnamed"

    def greet(self, who):
        raise NotImplementedError(f"{type(self).__name__} must implement greet()")

    def __repr__(self):
        return f"<Plugin {self.name!r}>"


def describe():
    """Return the registry as JSON; `json` is imported lazily, in the loader that defines hostapi."""
    import json

    return json.dumps({"hostapi": __version__, "plugins": [p.name for p in plugins()]})
