#if canImport(Glibc)
import Glibc
#endif

// Reading a manifest file, parsing it with `tomllib`, and building its loader tree.

extension Manifest {
    /// Reads a manifest file, parses it with Python's `tomllib` in the root loader, and
    /// validates it.
    ///
    /// Starts CPython when it is not running yet (with the options given to
    /// `Loader.configure(_:)`): the parser runs in the root interpreter. Nothing is added
    /// to the root's `sys.path` here; `makeLoaders()` applies the `[root]` section.
    ///
    /// - Parameter file: The manifest's path; relative paths inside it are resolved
    ///   against its folder.
    /// - Returns: The validated manifest.
    /// - Throws: `ManifestError` when the file cannot be read, is not UTF-8, is not
    ///   valid TOML (with the line the parser names) or breaks a manifest rule;
    ///   `LoaderError` when CPython cannot be started.
    public static func load(file: String) throws -> Manifest {
        try parse(file: file, source: try readText(of: file))
    }

    /// Parses and validates manifest text that did not come from disk.
    ///
    /// - Parameters:
    ///   - file: The path the text stands for: relative paths in it are resolved against
    ///     its folder, and errors name it.
    ///   - source: TOML text.
    /// - Throws: `ManifestError` for invalid TOML or a broken rule; `LoaderError` when
    ///   CPython cannot be started.
    public static func parse(file: String, source: String) throws -> Manifest {
        let document = try TOMLParser.parse(source, file: file)
        return try Manifest(file: file, source: source, document: document)
    }

    /// Creates every loader of the manifest and returns them by name, `"root"` included.
    ///
    /// 1. Checks that no live loader already has one of the manifest's names; if one
    ///    does, nothing is created or changed.
    /// 2. Applies `[root]`: its `paths` (and the system site-packages when
    ///    `system_site_packages = true`) are appended to the root's `sys.path`. The root is
    ///    already running, because the manifest was parsed there (see
    ///    `Loader.appendRootPaths(_:systemSitePackages:)`).
    /// 3. Creates each `[loaders.NAME]` in `loaders` order (parents before children).
    ///
    /// No loader is left half-made: when creating one fails, the ones already created by
    /// this call are closed, newest first, before the error is thrown. (Root paths already
    /// appended stay: the root lives as long as the process.)
    ///
    /// `extensions` is handed to each loader (`Loader.extensions`), which applies it to the
    /// extension modules it imports (`ExtensionModules`).
    ///
    /// - Returns: Every loader of the manifest by name.
    /// - Throws: `ManifestError` naming the loader (and key when one is to blame) when a
    ///   name is taken or a loader cannot be created; `LoaderError` when CPython cannot start.
    public func makeLoaders() throws -> [String: Loader] {
        for spec in loaders {
            if Loader.named(spec.name) != nil {
                throw ManifestError(file: file, loader: spec.name,
                                    message: "a live loader is already named \(quotedForMessage(spec.name))")
            }
        }
        let root = try Loader.root
        do {
            try root.appendRootPaths(self.root.paths, systemSitePackages: self.root.systemSitePackages)
        } catch {
            throw ManifestError(file: file, loader: "root", key: "paths",
                                message: "cannot be added to the root: \(escapedForMessage("\(error)", limit: 300))")
        }
        var made: [String: Loader] = ["root": root]
        var order: [Loader] = []
        for spec in loaders {
            do {
                // Validation put every parent before its children.
                guard let parent = made[spec.parent] else {
                    throw LoaderError.invalidArgument("parent '\(spec.parent)' was not created first")
                }
                let loader = try parent.child(spec.name, paths: spec.paths, delegation: spec.delegation,
                                              shared: spec.shared, local: spec.local, extensions: spec.extensions,
                                              gil: spec.gil)
                made[spec.name] = loader
                order.append(loader)
            } catch {
                for loader in order.reversed() { try? loader.close() }
                var key: String?
                if case LoaderError.invalidPath? = error as? LoaderError { key = "paths" }
                throw ManifestError(file: file, loader: spec.name, key: key,
                                    message: "cannot create the loader: \(escapedForMessage("\(error)", limit: 300))")
            }
        }
        return made
    }

    /// The whole text of `file`, which must be UTF-8.
    static func readText(of file: String) throws -> String {
        let descriptor = open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ManifestError(file: file, message: "cannot read the manifest: \(String(cString: strerror(errno)))")
        }
        defer { Glibc.close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw ManifestError(file: file, message: "cannot read the manifest: \(String(cString: strerror(errno)))")
            }
            bytes += buffer[0..<count]
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ManifestError(file: file, message: "the manifest is not UTF-8 text (TOML files are UTF-8)")
        }
        return text
    }
}

/// TOML parsing by Python's `tomllib`, in the root interpreter.
///
/// Why `tomllib` rather than a Swift TOML package: it is the parser Python's own tooling
/// uses (it reads every `pyproject.toml`), it ships with CPython 3.11 so PyLoader needs no
/// new dependency, and its `TOMLDecodeError` messages name the line of a syntax error
/// (`"Invalid value (at line 3, column 8)"`), which manifest errors repeat.
enum TOMLParser {
    /// Parses `source` into a `TOMLValue`; tables keep their order (Python dicts are ordered).
    /// - Throws: `ManifestError` for invalid TOML, with the line when the parser names one.
    static func parse(_ source: String, file: String) throws -> TOMLValue {
        // tomllib parses nested arrays and inline tables recursively, and a deep
        // enough nest overflows a small thread stack before any RecursionError: no
        // manifest needs more than a few levels, so deeper text is refused up front.
        if let line = lineExceedingNesting(source, limit: maximumNesting) {
            throw ManifestError(file: file, line: line,
                                message: "invalid TOML: values nested more than \(maximumNesting) levels deep")
        }
        let root = try Loader.root
        let tomllib = try root.importModule("tomllib")
        let document: PythonObject
        do {
            document = try tomllib.attribute("loads").call([source])
        } catch let error as PythonError where error.typeName == "TOMLDecodeError" {
            throw ManifestError.syntaxError(file: file, message: error.message,
                                            line: syntaxErrorLine(error.message, source: source))
        } catch let error as PythonError where error.typeName == "RecursionError" {
            throw ManifestError(file: file, message: "invalid TOML: nested too deeply for the parser")
        }
        return try value(of: document, builtins: try root.importModule("builtins"), file: file, depth: 0)
    }

    /// How deep arrays, inline tables and dotted tables may nest in a manifest.
    static let maximumNesting = 32

    /// The line where `[`/`{` nesting first goes past `limit`, outside strings and
    /// comments; nil when it never does.
    static func lineExceedingNesting(_ source: String, limit: Int) -> Int? {
        var depth = 0, line = 1
        var quote: [UInt8]? = nil          // the closing delimiter of the string we are in
        var inComment = false
        let bytes = Array(source.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") { line += 1; inComment = false }
            if inComment { index += 1; continue }
            if let closing = quote {
                if byte == UInt8(ascii: "\\"), closing.first == UInt8(ascii: "\"") { index += 2; continue }
                if bytes[index...].starts(with: closing) { index += closing.count; quote = nil; continue }
                index += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "#"): inComment = true
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                let triple = [byte, byte, byte]
                quote = bytes[index...].starts(with: triple) ? triple : [byte]
                index += quote!.count
                continue
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > limit { return line }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth = Swift.max(0, depth - 1)
            default: break
            }
            index += 1
        }
        return nil
    }

    /// The line `tomllib` names in a `TOMLDecodeError` message: `"... (at line 3, column 8)"`,
    /// or the last line for `"... (at end of document)"` (counted as `tomllib` counts: one
    /// more than the newlines before the position). Nil when the message names neither.
    static func syntaxErrorLine(_ message: String, source: String) -> Int? {
        if let marker = message.firstRange(of: "(at line ") {
            return Int(String(message[marker.upperBound...].prefix(while: \.isNumber)))
        }
        if message.hasSuffix("(at end of document)") {
            return source.utf8.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        }
        return nil
    }

    /// Converts what `tomllib` returns: `dict`, `list`, `str`, `int`, `float`, `bool`,
    /// and `datetime`/`date`/`time` (kept as ISO 8601 text).
    private static func value(of object: PythonObject, builtins: PythonObject, file: String, depth: Int) throws -> TOMLValue {
        // Dotted table headers nest without brackets: the same limit, here.
        guard depth <= maximumNesting else {
            throw ManifestError(file: file, message: "invalid TOML: tables nested more than \(maximumNesting) levels deep")
        }
        switch object.typeName {
        case "str":
            return .string(try String(python: object))
        case "bool":
            return .boolean(try Bool(python: object))
        case "int":
            guard let integer = Int(object) else {
                throw ManifestError(file: file, message: "invalid TOML: integer \(object) does not fit in 64 bits")
            }
            return .integer(integer)
        case "float":
            return .float(try Double(python: object))
        case "list":
            let count = try Int(python: try builtins.len(object))
            return .array(try (0..<count).map { try value(of: try object[$0], builtins: builtins, file: file, depth: depth + 1) })
        case "dict":
            // list(d) gives the keys in insertion order, which is the file's order.
            let keys = try [String](python: try builtins.list(object))
            return .table(try keys.map {
                (key: $0, value: try value(of: try object[$0], builtins: builtins, file: file, depth: depth + 1))
            })
        default:
            return .datetime(try String(python: try object.isoformat()))
        }
    }
}
