"""A registry of the host (the root): test loaders that put their objects here leak them."""
items = []
