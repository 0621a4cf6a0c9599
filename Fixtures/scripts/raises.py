"""Script fixture: raises an uncaught ValueError."""

raise ValueError("from script")
