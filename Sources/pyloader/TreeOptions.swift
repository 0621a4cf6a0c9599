import ArgumentParser
import PyLoader

/// The loader tree a command works on: the manifest's, or the root alone.
struct TreeOptions: ParsableArguments {
    @Option(name: .long, help: "The manifest (default: ./pyloader.toml when it exists, else the root alone).")
    var manifest: String?

    var manifestDescription: String { manifest ?? "the default tree" }

    /// Builds every loader of the tree; returns a lookup by name.
    func makeTree() throws -> LoaderTree {
        LoaderTree(root: try Loader.root)
    }
}

/// The loaders a command made, by name.
struct LoaderTree {
    let root: Loader

    func named(_ name: String) -> Loader? {
        name == "root" ? root : Loader.named(name)
    }
}

/// A one-line usage error with exit status 2.
func usageError(_ message: String) -> Error {
    ValidationError(message)
}
