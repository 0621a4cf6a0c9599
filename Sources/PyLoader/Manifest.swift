#if canImport(Glibc)
import Glibc
#endif

/// The loader tree described by a manifest (`pyloader.toml`), validated and ready to build.
///
/// ```toml
/// [root]
/// paths = ["host"]
/// system_site_packages = false
///
/// [loaders.plugin-a]
/// parent = "root"
/// paths = ["plugins/a", "plugins/a/site-packages"]
/// delegation = "child-first"
/// shared = ["hostapi"]
/// local = ["greeting"]
/// extensions = "copy"
/// ```
///
/// A `Manifest` value is only ever made whole: ``init(file:source:document:fileExists:)``
/// checks every rule before it returns, and throws the first problem in file order.
public struct Manifest: Equatable, Sendable {
    /// The `[root]` section: settings of the root loader (the main interpreter).
    public struct Root: Equatable, Sendable {
        /// Absolute, standardized folders appended to the root's `sys.path`, after the standard library.
        public var paths: [String]
        /// Whether the system's site-packages are on the root's path; `false` by default.
        public var systemSitePackages: Bool

        public init(paths: [String] = [], systemSitePackages: Bool = false) {
            self.paths = paths
            self.systemSitePackages = systemSitePackages
        }
    }

    /// One `[loaders.NAME]` section: a child loader to create.
    public struct LoaderSpec: Equatable, Sendable {
        /// The loader's name, matching `[A-Za-z0-9][A-Za-z0-9_.-]*`; never `root`.
        public var name: String
        /// The parent loader's name; `"root"` by default.
        public var parent: String
        /// Absolute, standardized folders for the loader's `sys.path`, resolved against the
        /// manifest's folder. Each one exists and is a folder.
        public var paths: [String]
        /// Whether the parent or the loader's own paths are asked first; parent-first by default.
        public var delegation: Delegation
        /// Top-level module names always taken from the parent.
        public var shared: [String]
        /// Top-level module names never taken from the parent.
        public var local: [String]
        /// What to do with an extension module already loaded elsewhere; `.copy` by default.
        public var extensions: ExtensionPolicy
        /// The loader's GIL: the tree's (`.shared`, the default) or its own (`.own`, 3.12+).
        public var gil: GIL

        public init(name: String, parent: String = "root", paths: [String] = [],
                    delegation: Delegation = .parentFirst, shared: [String] = [], local: [String] = [],
                    extensions: ExtensionPolicy = .copy, gil: GIL = .shared) {
            self.name = name
            self.parent = parent
            self.paths = paths
            self.delegation = delegation
            self.shared = shared
            self.local = local
            self.extensions = extensions
            self.gil = gil
        }
    }

    /// The path of the manifest file, as it was given.
    public var file: String
    /// The `[root]` section, with defaults for what it leaves out.
    public var root: Root
    /// The child loaders in creation order: every parent before its children, and
    /// otherwise in the order the file lists them.
    public var loaders: [LoaderSpec]

    /// A manifest with the root alone (used when no `pyloader.toml` exists).
    ///
    /// - Parameter directory: The folder that was searched; ``file`` is set to the
    ///   `pyloader.toml` that would have been there, which does not exist.
    public static func rootOnly(directory: String) -> Manifest {
        let folder = directory.hasSuffix("/") ? directory : directory + "/"
        return Manifest(file: folder + "pyloader.toml", root: Root(), loaders: [])
    }

    private init(file: String, root: Root, loaders: [LoaderSpec]) {
        self.file = file
        self.root = root
        self.loaders = loaders
    }

    /// Validates a parsed document.
    ///
    /// The rules, each reported as a ``ManifestError`` naming the file, the loader
    /// (`"root"` for `[root]`), the key and, when it can be found, the line:
    /// - The top level holds only `root` (a table) and `loaders` (a table of tables).
    /// - `[root]` holds only `paths` (array of strings) and `system_site_packages` (boolean).
    /// - `[loaders.NAME]` holds only `parent` (string), `paths` (array of strings),
    ///   `delegation` (`"parent-first"` or `"child-first"`), `shared` and `local` (arrays of
    ///   top-level Python module names: identifiers, no dots), `extensions`
    ///   (`"copy"`, `"share"` or `"error"`) and `gil` (`"shared"` or `"own"`). No name may
    ///   be in both `shared` and `local`.
    /// - Loader names match `[A-Za-z0-9][A-Za-z0-9_.-]*`, are unique, and are not `root`.
    /// - Every `parent` names `root` or another loader, and parents form no cycle.
    /// - Every path exists and is a folder. Relative paths are resolved against the
    ///   manifest file's folder and then standardized lexically (`.` and `..` removed,
    ///   symbolic links left alone). A leading `~` is *not* expanded: it is an ordinary
    ///   folder name, as it is for Python's `sys.path`.
    ///
    /// An unknown key's message suggests the closest valid key when one is within two edits.
    ///
    /// - Parameters:
    ///   - file: The manifest's path, as given; relative paths in the manifest are resolved
    ///     against its folder (itself resolved against the current directory when relative).
    ///   - source: The raw text of the file, used only to find line numbers for messages.
    ///   - document: The text as parsed by `tomllib`.
    ///   - fileExists: Reports whether a path exists and whether it is a folder; the file
    ///     system by default. Replaceable so that tests need not touch the disk.
    /// - Throws: The first problem in file order, as a ``ManifestError``.
    public init(file: String, source: String, document: TOMLValue,
                fileExists: (String) -> (exists: Bool, isDirectory: Bool) = Manifest.fileSystemStatus) throws(ManifestError) {
        let validator = Validator(file: file, source: source, document: document)
        let (root, loaders) = try validator.validate(document, fileExists: fileExists)
        self.init(file: file, root: root, loaders: Manifest.creationOrder(loaders))
    }

    /// Whether `path` exists on disk and is a folder; the default for `fileExists`.
    @usableFromInline
    static func fileSystemStatus(_ path: String) -> (exists: Bool, isDirectory: Bool) {
        // stat(2) rather than FileManager: the library does not link Foundation.
        var info = stat()
        guard stat(path, &info) == 0 else { return (false, false) }
        return (true, (info.st_mode & S_IFMT) == S_IFDIR)
    }

    /// `loaders` reordered so that each parent comes before its children, changing the
    /// file order no more than that: each step takes the first remaining loader in file
    /// order whose parent already exists.
    static func creationOrder(_ loaders: [LoaderSpec]) -> [LoaderSpec] {
        var created: Set<String> = ["root"]
        var remaining = loaders
        var ordered: [LoaderSpec] = []
        while !remaining.isEmpty {
            guard let next = remaining.firstIndex(where: { created.contains($0.parent) }) else {
                // Validation rejects unknown parents and cycles, so this cannot happen;
                // keep every loader anyway rather than drop one silently.
                assertionFailure("unknown parent or cycle passed validation")
                ordered += remaining
                break
            }
            let spec = remaining.remove(at: next)
            created.insert(spec.name)
            ordered.append(spec)
        }
        return ordered
    }
}

// MARK: - Validation

/// The keys each part of the manifest accepts, in the order the documentation lists them
/// (which is also the order suggestions and "valid keys" lists use).
private enum Keys {
    static let topLevel = ["root", "loaders"]
    static let root = ["paths", "system_site_packages"]
    static let loader = ["parent", "paths", "delegation", "shared", "local", "extensions", "gil"]
}

/// Checks a document against the manifest rules, throwing at the first problem.
///
/// The document is walked in its own order (which is the file's), and every check on an
/// entry happens when that entry is reached, so the first error thrown is the first in
/// file order. Checks that look elsewhere (does the parent exist? is there a cycle?) use
/// the names and parents collected up front.
private struct Validator {
    let file: String
    /// The manifest's folder: absolute and standardized.
    let folder: String
    let lines: SourceLines
    /// Every loader name in the document, so that a parent may be defined after its child.
    let loaderNames: Set<String>
    /// Each loader's parent as written (or `"root"` when it has no `parent` key); missing
    /// for a loader whose parent is not a string, which reports its own error.
    let declaredParents: [String: String]

    init(file: String, source: String, document: TOMLValue) {
        self.file = file
        self.folder = Paths.folder(of: file)
        self.lines = SourceLines(source)
        var names = Set<String>()
        var parents: [String: String] = [:]
        if case .table(let top) = document,
           case .table(let loaders)? = top.first(where: { $0.key == "loaders" })?.value {
            for (name, value) in loaders where names.insert(name).inserted {
                guard case .table(let entries) = value else { continue }
                switch entries.first(where: { $0.key == "parent" })?.value {
                case nil: parents[name] = "root"
                case .string(let parent)?: parents[name] = parent
                default: break
                }
            }
        }
        self.loaderNames = names
        self.declaredParents = parents
    }

    func validate(_ document: TOMLValue, fileExists: (String) -> (exists: Bool, isDirectory: Bool))
        throws(ManifestError) -> (Manifest.Root, [Manifest.LoaderSpec]) {
        guard case .table(let top) = document else {
            throw error("expected a table at the top level, got \(document.briefDescription)", loader: nil, key: nil)
        }
        var root = Manifest.Root()
        var loaders: [Manifest.LoaderSpec] = []
        var seen = Set<String>()
        for (key, value) in top {
            try checkFirstDefinition(of: key, seen: &seen, loader: nil)
            switch key {
            case "root":
                root = try validateRoot(value, fileExists: fileExists)
            case "loaders":
                guard case .table(let entries) = value else {
                    throw error("expected a table of loader tables, got \(value.briefDescription)", loader: nil, key: key)
                }
                var names = Set<String>()
                for (name, value) in entries {
                    guard names.insert(name).inserted else {
                        throw error("loader defined twice", loader: name, key: nil, linePath: ["loaders", name], occurrence: 1)
                    }
                    loaders.append(try validateLoader(name: name, value: value, fileExists: fileExists))
                }
            default:
                throw unknownKey(key, loader: nil, valid: Keys.topLevel)
            }
        }
        return (root, loaders)
    }

    private func validateRoot(_ value: TOMLValue, fileExists: (String) -> (exists: Bool, isDirectory: Bool))
        throws(ManifestError) -> Manifest.Root {
        guard case .table(let entries) = value else {
            throw error("expected a table, got \(value.briefDescription)", loader: nil, key: "root")
        }
        var root = Manifest.Root()
        var seen = Set<String>()
        for (key, value) in entries {
            try checkFirstDefinition(of: key, seen: &seen, loader: "root")
            switch key {
            case "paths":
                root.paths = try paths(value, loader: "root", key: key, fileExists: fileExists)
            case "system_site_packages":
                guard case .boolean(let flag) = value else {
                    throw error("expected a boolean, got \(value.briefDescription)", loader: "root", key: key)
                }
                root.systemSitePackages = flag
            default:
                throw unknownKey(key, loader: "root", valid: Keys.root)
            }
        }
        return root
    }

    private func validateLoader(name: String, value: TOMLValue,
                                fileExists: (String) -> (exists: Bool, isDirectory: Bool))
        throws(ManifestError) -> Manifest.LoaderSpec {
        guard name != "root" else {
            throw error("the name \"root\" is reserved for the root loader: configure it in [root], or rename [loaders.root]",
                        loader: "root", key: nil, linePath: ["loaders", "root"])
        }
        guard Names.isValidLoaderName(name) else {
            throw error("invalid loader name: a name starts with a letter or digit and holds only letters, digits, \"_\", \".\" and \"-\"",
                        loader: name, key: nil)
        }
        guard case .table(let entries) = value else {
            throw error("expected a table, got \(value.briefDescription)", loader: name, key: nil)
        }
        var spec = Manifest.LoaderSpec(name: name)
        // Optional until seen, so that an overlap is reported at whichever comes second.
        var shared: [String]?
        var local: [String]?
        var seen = Set<String>()
        for (key, value) in entries {
            try checkFirstDefinition(of: key, seen: &seen, loader: name)
            switch key {
            case "parent":
                spec.parent = try parent(value, of: name)
            case "paths":
                spec.paths = try paths(value, loader: name, key: key, fileExists: fileExists)
            case "delegation":
                spec.delegation = try choice(value, loader: name, key: key)
            case "shared":
                shared = try moduleNames(value, loader: name, key: key)
                try checkDisjoint(shared, local, loader: name, key: key)
            case "local":
                local = try moduleNames(value, loader: name, key: key)
                try checkDisjoint(local, shared, loader: name, key: key)
            case "extensions":
                spec.extensions = try choice(value, loader: name, key: key)
            case "gil":
                spec.gil = try choice(value, loader: name, key: key)
            default:
                throw unknownKey(key, loader: name, valid: Keys.loader)
            }
        }
        spec.shared = shared ?? []
        spec.local = local ?? []
        return spec
    }

    // MARK: Values

    private func parent(_ value: TOMLValue, of name: String) throws(ManifestError) -> String {
        guard case .string(let parent) = value else {
            throw error("expected a string, got \(value.briefDescription)", loader: name, key: "parent")
        }
        if parent == "root" { return parent }
        guard loaderNames.contains(parent) else {
            var message = "unknown loader \(quotedForMessage(parent))"
            if let suggestion = Wording.closest(to: parent, among: ["root"] + loaderNames.sorted()) {
                message += "; did you mean \(quotedForMessage(suggestion))?"
            } else {
                message += "; a parent is \"root\" or the name of a [loaders.NAME] section"
            }
            throw error(message, loader: name, key: "parent")
        }
        if let cycle = cycle(from: name, through: parent) {
            throw error("parents form a cycle: " + cycle.map { escapedForMessage($0, limit: 60) }.joined(separator: " -> "),
                        loader: name, key: "parent")
        }
        return parent
    }

    /// The chain `name -> parent -> ... -> name` when following declared parents from
    /// `name` comes back to it; `nil` when the chain reaches the root, a loader whose
    /// parent is broken (it reports its own error) or a cycle that `name` is not part of
    /// (its first member in file order reports it).
    private func cycle(from name: String, through parent: String) -> [String]? {
        var chain = [name]
        var current = parent
        while current != "root" {
            if current == name { return chain + [name] }
            if chain.contains(current) { return nil }
            chain.append(current)
            guard let next = declaredParents[current] else { return nil }
            current = next
        }
        return nil
    }

    private func paths(_ value: TOMLValue, loader: String, key: String,
                       fileExists: (String) -> (exists: Bool, isDirectory: Bool)) throws(ManifestError) -> [String] {
        var resolved: [String] = []
        for path in try strings(value, loader: loader, key: key) {
            guard !path.isEmpty else {
                throw error("a path is empty; write \".\" for the manifest's folder", loader: loader, key: key)
            }
            let absolute = Paths.resolve(path, against: folder)
            let status = fileExists(absolute)
            if !status.exists {
                var message = "path \(quotedForMessage(path)) does not exist (resolved to \(quotedForMessage(absolute)))"
                if path.hasPrefix("~") { message += "; \"~\" is not expanded, write the full path" }
                throw error(message, loader: loader, key: key)
            }
            guard status.isDirectory else {
                throw error("path \(quotedForMessage(path)) is a file, not a folder (resolved to \(quotedForMessage(absolute)))",
                            loader: loader, key: key)
            }
            resolved.append(absolute)
        }
        return resolved
    }

    private func moduleNames(_ value: TOMLValue, loader: String, key: String) throws(ManifestError) -> [String] {
        let names = try strings(value, loader: loader, key: key)
        for name in names where !Names.isTopLevelModuleName(name) {
            let topLevel = name.split(separator: ".", omittingEmptySubsequences: false).first.map(String.init) ?? ""
            if name.contains("."), Names.isTopLevelModuleName(topLevel) {
                throw error("\(quotedForMessage(name)) is not a top-level module name; write \(quotedForMessage(topLevel)) (a package goes with all its submodules)",
                            loader: loader, key: key)
            }
            throw error("\(quotedForMessage(name)) is not a valid Python module name", loader: loader, key: key)
        }
        return names
    }

    private func strings(_ value: TOMLValue, loader: String, key: String) throws(ManifestError) -> [String] {
        guard case .array(let items) = value else {
            var message = "expected an array of strings, got \(value.briefDescription)"
            if case .string(let text) = value { message += " (write [\(quotedForMessage(text))])" }
            throw error(message, loader: loader, key: key)
        }
        var strings: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item else {
                throw error("expected an array of strings, but item \(index + 1) is \(item.briefDescription)",
                            loader: loader, key: key)
            }
            strings.append(text)
        }
        return strings
    }

    /// One of an enumeration's raw values, such as `"parent-first"`.
    private func choice<Choice: RawRepresentable & CaseIterable>(_ value: TOMLValue, loader: String, key: String)
        throws(ManifestError) -> Choice where Choice.RawValue == String {
        if case .string(let text) = value, let choice = Choice(rawValue: text) { return choice }
        let expected = Wording.oneOf(Choice.allCases.map { quotedForMessage($0.rawValue) })
        let got: String
        if case .string(let text) = value { got = quotedForMessage(text) } else { got = value.briefDescription }
        throw error("expected \(expected), got \(got)", loader: loader, key: key)
    }

    // MARK: Shared checks

    private func checkFirstDefinition(of key: String, seen: inout Set<String>, loader: String?) throws(ManifestError) {
        // tomllib rejects duplicate keys, but a document built another way may hold them.
        guard seen.insert(key).inserted else {
            let section = loader.map { $0 == "root" ? ["root"] : ["loaders", $0] } ?? []
            throw error("key defined twice", loader: loader, key: key, linePath: section + [key], occurrence: 1)
        }
    }

    private func checkDisjoint(_ names: [String]?, _ others: [String]?, loader: String, key: String) throws(ManifestError) {
        guard let names, let others, let both = names.first(where: others.contains) else { return }
        throw error("\(quotedForMessage(both)) is in both shared and local; a name either always comes from the parent or never does",
                    loader: loader, key: key)
    }

    private func unknownKey(_ key: String, loader: String?, valid: [String]) -> ManifestError {
        if let suggestion = Wording.closest(to: key, among: valid) {
            return error("unknown key; did you mean \(quotedForMessage(suggestion))?", loader: loader, key: key)
        }
        let scope = loader == nil ? "top-level keys" : "keys"
        return error("unknown key (valid \(scope): \(valid.joined(separator: ", ")))", loader: loader, key: key)
    }

    /// An error whose line is that of `linePath` (by default the loader's section and key)
    /// in the source; `occurrence` picks a later definition of the same path, for duplicates.
    private func error(_ message: String, loader: String?, key: String?,
                       linePath: [String]? = nil, occurrence: Int = 0) -> ManifestError {
        let section: [String]
        switch loader {
        case nil: section = []
        case "root"?: section = ["root"]
        case let name?: section = ["loaders", name]
        }
        let path = linePath ?? (section + (key.map { [$0] } ?? []))
        return ManifestError(file: file, loader: loader, key: key,
                             line: lines.line(of: path, occurrence: occurrence), message: message)
    }
}

// MARK: - Names and paths

private enum Wording {
    /// The candidate nearest to `word` when it is within two edits; the earlier candidate wins a tie.
    static func closest(to word: String, among candidates: [String]) -> String? {
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(word, candidate)
            if distance <= 2, distance < (best?.distance ?? .max) { best = (candidate, distance) }
        }
        return best?.candidate
    }

    /// Levenshtein distance over characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    /// `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
    static func oneOf(_ items: [String]) -> String {
        guard items.count > 1 else { return items.first ?? "" }
        return items.dropLast().joined(separator: ", ") + " or " + items[items.count - 1]
    }
}

/// Lexical path handling: no file system access, no `~` expansion, no symlink resolution,
/// so that a path means the same thing whatever is on disk.
private enum Paths {
    /// The folder holding `file`, absolute and standardized.
    static func folder(of file: String) -> String {
        let absolute = file.hasPrefix("/") ? file : currentDirectory() + "/" + file
        var components = components(of: absolute)
        _ = components.popLast()
        return "/" + components.joined(separator: "/")
    }

    /// The process's current folder (`getcwd`); `/` in the unlikely case it cannot be read
    /// (it was deleted), so that the missing-path check then names a path that says so.
    private static func currentDirectory() -> String {
        currentFolder() ?? "/"
    }

    /// `path` made absolute against `folder` and standardized.
    static func resolve(_ path: String, against folder: String) -> String {
        "/" + components(of: path.hasPrefix("/") ? path : folder + "/" + path).joined(separator: "/")
    }

    /// The components of an absolute path with `.`, `..` and empty ones removed.
    private static func components(of path: String) -> [Substring] {
        var components: [Substring] = []
        for component in path.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(component)
            }
        }
        return components
    }
}

// MARK: - Line numbers

/// Finds the line of a table or key in the raw text, for error messages.
///
/// Not a TOML parser: it reads each line's leading `[table.header]` or `dotted.key =`
/// and remembers the full key path it names. That covers `[loaders.a]` sections, dotted
/// keys (`loaders.a.paths = ...`) and, approximately, inline tables (`a = { paths = ... }`).
/// Text inside multi-line strings and arrays can mislead it; it then returns a wrong or
/// no line, never a wrong error.
private struct SourceLines {
    private struct Entry {
        var line: Int
        /// The full key path: the current table's path plus the line's own dotted key.
        var path: [String]
        var isHeader: Bool
        var text: String
    }

    private var entries: [Entry] = []

    init(_ source: String) {
        var table: [String] = []
        // Split on "\n" bytes, as tomllib counts lines; "\r\n" would be one Character.
        for (index, bytes) in source.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let text = String(decoding: bytes, as: UTF8.self)
            let start = text.drop(while: Self.isBlank)
            if start.first == "[" {
                // `[[name]]` (an array of tables) is named like `[name]`.
                if let (keys, rest) = Self.keyPath(start.drop(while: { $0 == "[" })), rest.first == "]" {
                    table = keys
                    entries.append(Entry(line: index + 1, path: keys, isHeader: true, text: text))
                }
            } else if let (keys, rest) = Self.keyPath(start), rest.first == "=" {
                entries.append(Entry(line: index + 1, path: table + keys, isHeader: false, text: text))
            }
        }
    }

    /// The first line that defines `path` or something inside it, else the first line that
    /// assigns an inline table holding it; `occurrence` 1 or more asks for a repeated
    /// definition of exactly `path` and falls back to the first when there is none.
    func line(of path: [String], occurrence: Int = 0) -> Int? {
        guard let last = path.last else { return nil }
        if occurrence > 0 {
            let exact = entries.filter { $0.path == path }
            if occurrence < exact.count { return exact[occurrence].line }
        }
        if let entry = entries.first(where: { $0.path.starts(with: path) }) { return entry.line }
        return entries.first(where: {
            !$0.isHeader && path.starts(with: $0.path) && Self.assigns(last, in: $0.text)
        })?.line
    }

    /// Whether `text` holds `key =` (bare or quoted), as inside an inline table.
    private static func assigns(_ key: String, in text: String) -> Bool {
        guard !key.isEmpty else { return false }
        for form in [key, "\"\(key)\"", "'\(key)'"] {
            var searchStart = text.startIndex
            while let found = text[searchStart...].firstRange(of: form) {
                let before = found.lowerBound == text.startIndex ? nil : text[text.index(before: found.lowerBound)]
                let after = text[found.upperBound...].drop(while: isBlank).first
                if after == "=", !(before.map(isBareKeyCharacter) ?? false) { return true }
                searchStart = text.index(after: found.lowerBound)
            }
        }
        return false
    }

    /// Reads a dotted key (`a`, `a.b`, `"quoted key".c`) from the start of `text`; returns
    /// its components and the text after it, or `nil` when `text` does not start with one.
    private static func keyPath(_ text: Substring) -> ([String], Substring)? {
        var keys: [String] = []
        var rest = text
        while true {
            rest = rest.drop(while: isBlank)
            guard let first = rest.first else { return nil }
            var key = ""
            if first == "\"" || first == "'" {
                rest = rest.dropFirst()
                var closed = false
                while let c = rest.first {
                    rest = rest.dropFirst()
                    if c == first {
                        closed = true
                        break
                    }
                    // Only `\"` and `\\` matter for finding names; other escapes are kept loosely.
                    if c == "\\", first == "\"", let escaped = rest.first {
                        key.append(escaped)
                        rest = rest.dropFirst()
                    } else {
                        key.append(c)
                    }
                }
                guard closed else { return nil }
            } else {
                let bare = rest.prefix(while: isBareKeyCharacter)
                guard !bare.isEmpty else { return nil }
                key = String(bare)
                rest = rest.dropFirst(bare.count)
            }
            keys.append(key)
            rest = rest.drop(while: isBlank)
            guard rest.first == "." else { return (keys, rest) }
            rest = rest.dropFirst()
        }
    }

    private static func isBlank(_ c: Character) -> Bool { c == " " || c == "\t" }

    private static func isBareKeyCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == "-")
    }
}
