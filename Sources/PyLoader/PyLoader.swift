// PyLoader: Java's class-loader model for CPython, driven from Swift.
// Start with `Loader.root`; see README.md for the model and docs/ARCHITECTURE.md for where each rule lives.
