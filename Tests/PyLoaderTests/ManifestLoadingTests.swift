import Foundation
import XCTest
@testable import PyLoader

/// Reading manifest files (`tomllib` in the root interpreter) and building their loader trees.
final class ManifestLoadingTests: XCTestCase {
    /// A temporary folder with `host/`, `plugins/a/`, `plugins/b/` and the file `notes.txt`.
    private var folder = ""
    private var manifestFile: String { folder + "/pyloader.toml" }
    /// Loaders a test made: closed in tearDown, children first, whatever the test did.
    private var madeLoaders: [Loader] = []

    override func setUpWithError() throws {
        // The options every test class of this target uses: the runtime is per process.
        try Loader.configure(RuntimeOptions(writeBytecode: false))
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ManifestLoadingTests-\(UUID().uuidString)").path
        for subfolder in ["host", "plugins/a", "plugins/b"] {
            try FileManager.default.createDirectory(atPath: folder + "/" + subfolder, withIntermediateDirectories: true)
        }
        try write("not a folder\n", to: "notes.txt")
    }

    override func tearDownWithError() throws {
        for loader in madeLoaders.reversed() { try? loader.close() }
        madeLoaders = []
        try? FileManager.default.removeItem(atPath: folder)
    }

    // MARK: - tomllib bridge

    func testTOMLValuesConvertWithTheirTypesAndTableOrder() throws {
        let value = try TOMLParser.parse("""
            zeta = "z"
            alpha = 1
            [mid]
            float = 1.5
            flag = true
            when = 1979-05-27T07:32:00Z
            day = 1979-05-27
            list = ["a", [2, false]]
            inline = { b = 1, a = 2 }
            """, file: "t.toml")
        XCTAssertEqual(value, .table([
            (key: "zeta", value: .string("z")),
            (key: "alpha", value: .integer(1)),
            (key: "mid", value: .table([
                (key: "float", value: .float(1.5)),
                (key: "flag", value: .boolean(true)),
                (key: "when", value: .datetime("1979-05-27T07:32:00+00:00")),
                (key: "day", value: .datetime("1979-05-27")),
                (key: "list", value: .array([.string("a"), .array([.integer(2), .boolean(false)])])),
                (key: "inline", value: .table([(key: "b", value: .integer(1)), (key: "a", value: .integer(2))])),
            ])),
        ]))
    }

    func testSyntaxErrorGivesTheParsersLine() throws {
        try write("[root]\npaths = [\"host\"]\n\n[loaders.a]\ndelegation = child-first\n", to: "pyloader.toml")
        let error = try loadError()
        XCTAssertEqual(error.line, 5)
        XCTAssertNil(error.loader)
        XCTAssertTrue(error.message.hasPrefix("invalid TOML: Invalid value"), error.message)
        XCTAssertTrue(error.description.hasPrefix(manifestFile + ":5: invalid TOML"), error.description)
    }

    func testSyntaxErrorAtEndOfDocumentGivesTheLastLine() throws {
        try write("[root]\npaths = [\"host\",\n", to: "pyloader.toml")
        XCTAssertEqual(try loadError().line, 3)
    }

    func testTableDefinedTwiceIsASyntaxError() throws {
        try write("[loaders.a]\n[loaders.b]\n[loaders.a]\n", to: "pyloader.toml")
        let error = try loadError()
        XCTAssertEqual(error.line, 3)
        XCTAssertTrue(error.message.contains("twice"), error.message)
    }

    /// Every rule broken in a real file gives a one-line error naming the file, the loader,
    /// the key and the line.
    func testEachErrorClassInARealFileNamesFileLoaderKeyAndLine() throws {
        let cases: [(source: String, loader: String?, key: String?, line: Int, contains: String)] = [
            ("[loaders.a]\ncolour = \"red\"\n", "a", "colour", 2, "unknown key"),
            ("[loaders.a]\ndelegation = \"sideways\"\n", "a", "delegation", 2, "\"parent-first\" or \"child-first\""),
            ("[loaders.a]\nshared = \"hostapi\"\n", "a", "shared", 2, "expected an array of strings"),
            ("[root]\nsystem_site_packages = \"no\"\n", "root", "system_site_packages", 2, "expected a boolean"),
            ("[loaders.a]\nparent = \"nowhere\"\n", "a", "parent", 2, "unknown loader \"nowhere\""),
            ("[loaders.a]\nparent = \"b\"\n[loaders.b]\nparent = \"a\"\n", "a", "parent", 2, "cycle: a -> b -> a"),
            ("[loaders.\"bad name\"]\n", "bad name", nil, 1, "invalid loader name"),
            ("[loaders.root]\n", "root", nil, 1, "reserved"),
            ("[loaders.a]\npaths = [\"plugins/a\", \"plugins/missing\"]\n", "a", "paths", 2, "does not exist"),
            ("[loaders.a]\npaths = [\"notes.txt\"]\n", "a", "paths", 2, "not a folder"),
            ("[loaders.a]\nshared = [\"x\"]\nlocal = [\"x\"]\n", "a", "local", 3, "both shared and local"),
            ("[plugins.a]\n", nil, "plugins", 1, "unknown key"),
        ]
        for example in cases {
            try write(example.source, to: "pyloader.toml")
            let error = try loadError()
            let context = "for \(example.source.debugDescription): \(error)"
            XCTAssertEqual(error.file, manifestFile, context)
            XCTAssertEqual(error.loader, example.loader, context)
            XCTAssertEqual(error.key, example.key, context)
            XCTAssertEqual(error.line, example.line, context)
            XCTAssertTrue(error.message.contains(example.contains), context)
            XCTAssertFalse(error.description.contains("\n"), context)
            XCTAssertTrue(error.description.hasPrefix("\(manifestFile):\(example.line): "), context)
        }
    }

    func testMissingFileIsAManifestError() throws {
        let error = try loadError(file: folder + "/nothere.toml")
        XCTAssertEqual(error.file, folder + "/nothere.toml")
        XCTAssertTrue(error.message.contains("No such file"), error.message)
    }

    func testFileThatIsNotUTF8IsAManifestError() throws {
        try Data([0x5B, 0xFF, 0xFE, 0x5D]).write(to: URL(fileURLWithPath: manifestFile))
        XCTAssertTrue(try loadError().message.contains("not UTF-8"))
    }

    func testLoadResolvesPathsAgainstTheManifestsFolder() throws {
        try write("""
            [root]
            paths = ["host"]
            [loaders.b]
            parent = "a"
            paths = ["plugins/b"]
            [loaders.a]
            paths = ["plugins/a", "./plugins/../plugins/a"]
            delegation = "child-first"
            shared = ["hostapi"]
            extensions = "share"
            """, to: "pyloader.toml")
        let manifest = try Manifest.load(file: manifestFile)
        XCTAssertEqual(manifest.root.paths, [folder + "/host"])
        XCTAssertEqual(manifest.loaders, [
            Manifest.LoaderSpec(name: "a", paths: [folder + "/plugins/a", folder + "/plugins/a"],
                                delegation: .childFirst, shared: ["hostapi"], extensions: .share),
            Manifest.LoaderSpec(name: "b", parent: "a", paths: [folder + "/plugins/b"]),
        ])
    }

    // MARK: - Building the tree

    func testMakeLoadersBuildsEveryLoaderWithItsSettings() throws {
        let (a, b) = (uniqueName("mlt-a"), uniqueName("mlt-b"))
        try write("""
            [loaders.\(b)]
            parent = "\(a)"
            paths = ["plugins/b"]
            local = ["greeting"]
            extensions = "error"
            [loaders.\(a)]
            paths = ["host"]
            delegation = "child-first"
            shared = ["hostapi"]
            """, to: "pyloader.toml")
        let loaders = try makeLoaders(try Manifest.load(file: manifestFile))
        XCTAssertEqual(Set(loaders.keys), ["root", a, b])
        let root = try Loader.root
        XCTAssertTrue(loaders["root"] === root)
        let made = try XCTUnwrap(loaders[a]), child = try XCTUnwrap(loaders[b])
        XCTAssertTrue(made.parent === root)
        XCTAssertEqual(made.paths, [folder + "/host"])
        XCTAssertEqual(made.delegation, .childFirst)
        XCTAssertEqual(made.shared, ["hostapi"])
        XCTAssertEqual(made.extensions, .copy)
        XCTAssertTrue(child.parent === made)
        XCTAssertEqual(child.local, ["greeting"])
        XCTAssertEqual(child.extensions, .error)
        XCTAssertTrue(Loader.named(b) === child)
    }

    func testMakeLoadersClosesTheLoadersItMadeWhenALaterOneFails() throws {
        let (a, b) = (uniqueName("mlt-a"), uniqueName("mlt-b"))
        try write("[loaders.\(a)]\npaths = [\"plugins/a\"]\n[loaders.\(b)]\npaths = [\"plugins/b\"]\n", to: "pyloader.toml")
        let manifest = try Manifest.load(file: manifestFile)
        // Valid when loaded; gone by the time the second loader is made.
        try FileManager.default.removeItem(atPath: folder + "/plugins/b")
        XCTAssertThrowsError(try makeLoaders(manifest)) { error in
            let manifestError = error as? ManifestError
            XCTAssertEqual(manifestError?.loader, b, "\(error)")
            XCTAssertEqual(manifestError?.key, "paths", "\(error)")
            XCTAssertFalse("\(error)".contains("\n"))
        }
        XCTAssertNil(Loader.named(a), "the loader made before the failure is left open")
        XCTAssertNil(Loader.named(b))
    }

    func testMakeLoadersCreatesNothingWhenANameIsTaken() throws {
        let (a, taken) = (uniqueName("mlt-a"), uniqueName("mlt-taken"))
        madeLoaders.append(try Loader.root.child(taken))
        try write("[loaders.\(a)]\n[loaders.\(taken)]\n", to: "pyloader.toml")
        XCTAssertThrowsError(try makeLoaders(try Manifest.load(file: manifestFile))) { error in
            XCTAssertEqual((error as? ManifestError)?.loader, taken, "\(error)")
        }
        XCTAssertNil(Loader.named(a))
    }

    func testRootPathsAreAppendedToTheRootsSysPath() throws {
        let module = uniqueName("mlt_rootmod").replacingOccurrences(of: "-", with: "_")
        try write("VALUE = 42\n", to: "host/\(module).py")
        try write("[root]\npaths = [\"host\"]\n", to: "pyloader.toml")
        let root = try Loader.root
        let sysPath = try root.importModule("sys").path
        defer { _ = try? sysPath.remove(folder + "/host") }   // leave the root as other tests expect it
        _ = try makeLoaders(try Manifest.load(file: manifestFile))
        let path = try [String](python: sysPath)
        XCTAssertEqual(path.filter { $0 == folder + "/host" }.count, 1, "\(path)")
        XCTAssertEqual(try Int(python: try root.importModule(module).VALUE), 42)
        XCTAssertEqual(root.paths.filter { $0 == folder + "/host" }.count, 1, "root.paths lists the manifest's root paths")
        XCTAssertTrue(try root.eval("'\(folder)/host' in __import__('pyloader').root().paths").isTruthy())
        // Loading the same manifest again does not add the folder twice.
        _ = try makeLoaders(try Manifest.load(file: manifestFile))
        XCTAssertEqual(try [String](python: sysPath).filter { $0 == folder + "/host" }.count, 1)
        _ = try? root.importModule("sys").modules.pop(module)
    }

    // MARK: - Helpers

    private func write(_ text: String, to relativePath: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: folder + "/" + relativePath))
    }

    /// The `ManifestError` that loading `file` throws; fails the test if it loads.
    private func loadError(file: String? = nil, sourceLine: UInt = #line) throws -> ManifestError {
        do {
            let manifest = try Manifest.load(file: file ?? manifestFile)
            XCTFail("expected a ManifestError, got \(manifest)", line: sourceLine)
        } catch let error as ManifestError {
            return error
        }
        throw LoadedWithoutError()
    }

    private struct LoadedWithoutError: Error {}

    /// `manifest.makeLoaders()`, remembering what it made so that tearDown closes it.
    private func makeLoaders(_ manifest: Manifest) throws -> [String: Loader] {
        let loaders = try manifest.makeLoaders()
        madeLoaders += manifest.loaders.compactMap { loaders[$0.name] }
        return loaders
    }
}
