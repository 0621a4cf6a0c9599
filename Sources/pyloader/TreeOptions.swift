import ArgumentParser
import PyLoader
#if canImport(Glibc)
import Glibc
#endif

/// The loader tree a command works on: the manifest's, or the root alone.
struct TreeOptions: ParsableArguments {
    @Option(name: .long, help: "The manifest (default: ./pyloader.toml when it exists, else the root alone).")
    var manifest: String?

    /// The manifest file in use: `--manifest`, else `./pyloader.toml` when it exists, else nil.
    var manifestFile: String? {
        if let manifest { return manifest }
        return access("pyloader.toml", F_OK) == 0 ? "pyloader.toml" : nil
    }

    /// Starts CPython, reads the manifest and creates every one of its loaders.
    ///
    /// - Parameter writeBytecode: Whether imports write `__pycache__` folders: by default as
    ///   `python` decides, `PYTHONDONTWRITEBYTECODE` set to anything non-empty turns it off
    ///   (the embedded runtime ignores the environment, so the CLI reads it). `test` turns it off.
    /// - Throws: `ManifestError` (exit status 2) for a manifest that cannot be read, parsed,
    ///   validated or built.
    func makeTree(writeBytecode: Bool = TreeOptions.environmentAllowsBytecode) throws -> LoaderTree {
        // Before the first use of Loader.root, which Manifest.load makes.
        var options = RuntimeOptions(writeBytecode: writeBytecode)
        options.handlesSignals = true   // Ctrl-C raises KeyboardInterrupt, as under python3
        try Loader.configure(options)
        let manifest: Manifest
        if let file = manifestFile {
            manifest = try Manifest.load(file: file)
        } else {
            manifest = Manifest.rootOnly(directory: currentDirectory())
        }
        return LoaderTree(manifest: manifest, loaders: try manifest.makeLoaders(), isDefault: manifestFile == nil)
    }
}

extension TreeOptions {
    /// False when `PYTHONDONTWRITEBYTECODE` is set to a non-empty string, as for `python`.
    static var environmentAllowsBytecode: Bool {
        guard let value = getenv("PYTHONDONTWRITEBYTECODE") else { return true }
        return value.pointee == 0
    }
}

/// The loaders a command made, by name, and the manifest they came from.
struct LoaderTree {
    let manifest: Manifest
    let loaders: [String: Loader]
    /// True when no manifest file was found: the tree is the root alone.
    let isDefault: Bool

    var root: Loader { loaders["root"]! }

    /// What the tree came from, for messages.
    var source: String { isDefault ? "the default tree (no ./pyloader.toml)" : manifest.file }

    /// The manifest's folder, absolute: what its relative paths were relative to.
    var folder: String {
        let file = absolutePath(manifest.file)
        return String(file[..<file.lastIndex(of: "/")!])
    }

    /// `path` as the manifest would write it: relative to its folder when inside it.
    func displayed(_ path: String) -> String {
        if path == folder { return "." }
        return path.hasPrefix(folder + "/") ? String(path.dropFirst(folder.count + 1)) : path
    }

    /// The loader named by `--in`, or a usage error that lists the names there are.
    func loader(named name: String) throws -> Loader {
        guard let loader = loaders[name] else {
            let names = ["root"] + manifest.loaders.map(\.name)
            throw UsageError("\(source): no loader named '\(name)' (--in); loaders: \(names.joined(separator: ", "))")
        }
        return loader
    }
}

/// The process's current folder.
func currentDirectory() -> String {
    currentFolder() ?? "."
}

/// `path` made absolute against the current folder, without `.`, `..` or a trailing `/`
/// (lexically: symbolic links are left alone).
func absolutePath(_ path: String) -> String {
    var parts: [Substring] = []
    for part in ((path.hasPrefix("/") ? "" : currentDirectory() + "/") + path).split(separator: "/") {
        switch part {
        case ".": continue
        case "..": _ = parts.popLast()
        default: parts.append(part)
        }
    }
    return "/" + parts.joined(separator: "/")
}
