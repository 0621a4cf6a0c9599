#if canImport(Glibc)
import Glibc
#endif

/// Whether a suite is written for pytest, decided from files alone (nothing is imported),
/// for `pyloader test --runner auto`.
enum PytestDetection {
    /// True when, for any of `paths` (absolute): a pytest configuration is in the path's
    /// folder or one above it (pytest.ini, .pytest.ini, `[tool.pytest.ini_options]` in
    /// pyproject.toml, `[tool:pytest]` in setup.cfg, `[pytest]` in tox.ini), or a
    /// conftest.py is there or below, or a test file below defines test functions outside
    /// classes (which unittest does not run).
    static func looksLikePytest(_ paths: [String]) -> Bool {
        paths.contains { path in
            let folder = TestDiscovery.fileKind(path) == .folder ? path : parentFolder(path)
            return hasConfiguration(atOrAbove: folder) || hasPytestFiles(path)
        }
    }

    /// The configuration files pytest reads, and the section each must contain
    /// (nil: the file alone is enough).
    static let configurations: [(file: String, section: String?)] = [
        ("pytest.ini", nil), (".pytest.ini", nil), ("pyproject.toml", "[tool.pytest.ini_options]"),
        ("setup.cfg", "[tool:pytest]"), ("tox.ini", "[pytest]"), ("conftest.py", nil),
    ]

    private static func hasConfiguration(atOrAbove start: String) -> Bool {
        var folder = start
        while true {
            for (file, section) in configurations {
                let path = folder == "/" ? "/" + file : folder + "/" + file
                guard TestDiscovery.fileKind(path) == .file else { continue }
                guard let section else { return true }
                if let text = readText(path), text.split(separator: "\n").contains(where: { trimmed($0) == section }) {
                    return true
                }
            }
            if folder == "/" { return false }
            folder = parentFolder(folder)
        }
    }

    /// A conftest.py in or below `path`, or a test file with a top-level `def test...`.
    /// Looks at most at a few hundred files (a suite says what it is early).
    private static func hasPytestFiles(_ path: String) -> Bool {
        var budget = 500
        func visit(_ path: String, depth: Int) -> Bool {
            guard budget > 0 else { return false }
            budget -= 1
            switch TestDiscovery.fileKind(path) {
            case .file:
                let name = TestDiscovery.lastComponent(path)
                if name == "conftest.py" { return true }
                guard name.hasSuffix(".py"), name.hasPrefix("test_") || name.hasSuffix("_test.py") else { return false }
                return readText(path).map(definesTestFunctions) ?? false
            case .folder where depth < 6:
                let name = TestDiscovery.lastComponent(path)
                if name.hasPrefix(".") || name == "__pycache__" || name == "node_modules" { return false }
                return TestDiscovery.entries(of: path).contains { visit(path + "/" + $0, depth: depth + 1) }
            default:
                return false
            }
        }
        return visit(path, depth: 0)
    }

    /// `def test...` or `async def test...` at the start of a line: a function outside a class.
    static func definesTestFunctions(_ source: String) -> Bool {
        source.split(separator: "\n").contains { $0.hasPrefix("def test") || $0.hasPrefix("async def test") }
    }

    private static func readText(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while bytes.count < 4_000_000 {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func trimmed(_ line: Substring) -> Substring {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        var text = line.drop(while: blank)
        while let last = text.last, blank(last) { text = text.dropLast() }
        return text
    }

    private static func parentFolder(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
