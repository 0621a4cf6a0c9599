/// A problem with a manifest (`pyloader.toml`): where it is and what is wrong.
///
/// The CLI prints ``description`` and exits with status 2. The description is always a
/// single line that names the file and, when known, the line, the loader and the key:
///
///     pyloader.toml:7: [loaders.plugin-a] delegation: expected "parent-first" or "child-first", got "sideways"
public struct ManifestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The manifest file's path, as it was given.
    public var file: String
    /// The loader whose section holds the problem: a name from `[loaders.NAME]`, `"root"` for
    /// the `[root]` section, or `nil` for the document's top level.
    public var loader: String?
    /// The key whose value is wrong (or the unknown key itself), or `nil` when the problem
    /// is the section as a whole.
    public var key: String?
    /// The 1-based line in the file, or `nil` when it could not be found.
    public var line: Int?
    /// What is wrong, and when possible what to write instead.
    public var message: String

    /// Creates an error; prefer the validating ``Manifest/init(file:source:document:fileExists:)``
    /// and ``syntaxError(file:message:line:)``, which fill these in consistently.
    public init(file: String, loader: String? = nil, key: String? = nil, line: Int? = nil, message: String) {
        self.file = file
        self.loader = loader
        self.key = key
        self.line = line
        self.message = message
    }

    /// An error for text that is not valid TOML, as reported by the parser (`tomllib`).
    ///
    /// - Parameters:
    ///   - file: The manifest file's path, as given.
    ///   - message: The parser's message, for example `Invalid value (at line 3, column 8)`.
    ///   - line: The line the parser names, when it names one.
    public static func syntaxError(file: String, message: String, line: Int? = nil) -> ManifestError {
        ManifestError(file: file, line: line, message: "invalid TOML: " + message)
    }

    /// `file:line: [loaders.NAME] key: message` on one line; the line, section and key
    /// are left out when unknown.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": "
        if let loader {
            text += loader == "root" ? "[root] " : "[loaders.\(tomlKey(loader))] "
        }
        if let key { text += "\(tomlKey(key)): " }
        text += message
        // Every part may hold user text (a quoted TOML key may contain a newline); the
        // one-line promise is kept here, in one place.
        return escapedForMessage(text)
    }
}

/// `key` as TOML would write it: bare when it can be, quoted otherwise.
func tomlKey(_ key: String) -> String {
    let bare = !key.isEmpty && key.unicodeScalars.allSatisfy {
        ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
    }
    return bare ? key : quotedForMessage(key, limit: 60)
}
