// PyLoader: Java's class-loader model for CPython, driven from Swift.
// Start with `Loader.root`; see README.md for the model and DESIGN.md for the contracts.
