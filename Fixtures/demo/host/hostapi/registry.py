"""Plugin registry of the host API (one registry per defining loader)."""

_plugins = []


def register(plugin):
    """Add a plugin instance to the registry and return it."""
    _plugins.append(plugin)
    return plugin


def plugins():
    """Return the registered plugin instances, in registration order, as a new list."""
    return list(_plugins)


def clear():
    """Forget every registered plugin."""
    _plugins.clear()
