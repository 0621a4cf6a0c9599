"""Broken fixture: importing this package raises ModuleNotFoundError for a missing dependency."""

import does_not_exist_dep  # noqa: F401  (deliberately missing)
