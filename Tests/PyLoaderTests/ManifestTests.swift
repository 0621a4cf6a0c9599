import Foundation
import XCTest
@testable import PyLoader

final class ManifestTests: XCTestCase {
    /// A temporary folder laid out like a plugin host:
    /// `host/`, `plugins/a/`, `plugins/a/site-packages/`, `plugins/b/`, `~/`, and the file `notes.txt`.
    private var folder = ""
    private var manifestFile: String { folder + "/pyloader.toml" }

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ManifestTests-\(UUID().uuidString)").path
        for subfolder in ["host", "plugins/a/site-packages", "plugins/b", "~"] {
            try FileManager.default.createDirectory(atPath: folder + "/" + subfolder, withIntermediateDirectories: true)
        }
        try Data("not a folder\n".utf8).write(to: URL(fileURLWithPath: folder + "/notes.txt"))
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    // MARK: - Valid manifests

    func testDesignExampleParsesWithDefaultsAndResolvedPaths() throws {
        let source = """
            [root]
            paths = ["host"]                 # appended to the root's sys.path (standard library first)
            system_site_packages = false     # default: the system's site-packages are not on any path

            [loaders.plugin-a]
            parent = "root"                  # default "root"
            paths = ["plugins/a", "plugins/a/site-packages"]   # relative to the manifest's folder
            delegation = "child-first"       # default "parent-first"
            shared = ["hostapi"]             # top-level names always taken from the parent
            local = ["greeting"]             # top-level names never taken from the parent
            extensions = "copy"              # "copy" (default) | "share" | "error"

            [loaders.plugin-b]
            paths = ["plugins/b"]
            """
        let document = table(
            ("root", table(("paths", strings("host")), ("system_site_packages", .boolean(false)))),
            ("loaders", table(
                ("plugin-a", table(
                    ("parent", .string("root")),
                    ("paths", strings("plugins/a", "plugins/a/site-packages")),
                    ("delegation", .string("child-first")),
                    ("shared", strings("hostapi")),
                    ("local", strings("greeting")),
                    ("extensions", .string("copy")))),
                ("plugin-b", table(("paths", strings("plugins/b"))))))
        )

        let manifest = try Manifest(file: manifestFile, source: source, document: document)

        XCTAssertEqual(manifest.file, manifestFile)
        XCTAssertEqual(manifest.root, Manifest.Root(paths: [folder + "/host"], systemSitePackages: false))
        XCTAssertEqual(manifest.loaders, [
            Manifest.LoaderSpec(name: "plugin-a", parent: "root",
                                paths: [folder + "/plugins/a", folder + "/plugins/a/site-packages"],
                                delegation: .childFirst, shared: ["hostapi"], local: ["greeting"], extensions: .copy),
            Manifest.LoaderSpec(name: "plugin-b", parent: "root", paths: [folder + "/plugins/b"],
                                delegation: .parentFirst, shared: [], local: [], extensions: .copy),
        ])
    }

    func testOmittedKeysTakeTheirDefaults() throws {
        let manifest = try Manifest(file: "pyloader.toml", source: "[loaders.bare]\n",
                                    document: table(("loaders", table(("bare", table())))))
        XCTAssertEqual(manifest.root, Manifest.Root(paths: [], systemSitePackages: false))
        XCTAssertEqual(manifest.loaders, [Manifest.LoaderSpec(name: "bare")])
        let spec = try XCTUnwrap(manifest.loaders.first)
        XCTAssertEqual(spec.parent, "root")
        XCTAssertEqual(spec.delegation, .parentFirst)
        XCTAssertEqual(spec.extensions, .copy)
        XCTAssertEqual(spec.paths, [])
    }

    func testEmptyDocumentIsTheRootAlone() throws {
        let manifest = try Manifest(file: "pyloader.toml", source: "", document: table())
        XCTAssertEqual(manifest.root, Manifest.Root())
        XCTAssertEqual(manifest.loaders, [])
    }

    func testRootOnlyNamesTheAbsentFileAndHasNoLoaders() {
        let manifest = Manifest.rootOnly(directory: "/work/project")
        XCTAssertEqual(manifest.file, "/work/project/pyloader.toml")
        XCTAssertEqual(manifest.root, Manifest.Root(paths: [], systemSitePackages: false))
        XCTAssertEqual(manifest.loaders, [])
        XCTAssertEqual(Manifest.rootOnly(directory: "/work/project/").file, "/work/project/pyloader.toml")
    }

    func testChildListedBeforeItsParentIsCreatedAfterIt() throws {
        // File order: grandchild, child, other, parent.
        let document = table(("loaders", table(
            ("grandchild", table(("parent", .string("child")))),
            ("child", table(("parent", .string("parent")))),
            ("other", table()),
            ("parent", table())
        )))
        let manifest = try Manifest(file: "pyloader.toml", source: "", document: document)
        // Stable: "other" keeps its place before "parent", which is not its relative.
        XCTAssertEqual(manifest.loaders.map(\.name), ["other", "parent", "child", "grandchild"])
    }

    func testSiblingsKeepFileOrder() throws {
        let document = table(("loaders", table(("zeta", table()), ("alpha", table()), ("mid", table()))))
        let manifest = try Manifest(file: "pyloader.toml", source: "", document: document)
        XCTAssertEqual(manifest.loaders.map(\.name), ["zeta", "alpha", "mid"])
    }

    func testPathsAreResolvedAgainstTheManifestFolderAndStandardized() throws {
        var asked: [String] = []
        let document = table(("root", table(("paths", strings("./a/../b/", "/abs//c/.", "..", "."))),))
        let manifest = try Manifest(file: "/srv/app/pyloader.toml", source: "", document: document,
                                    fileExists: { asked.append($0); return (true, true) })
        XCTAssertEqual(manifest.root.paths, ["/srv/app/b", "/abs/c", "/srv", "/srv/app"])
        XCTAssertEqual(asked, manifest.root.paths)
    }

    func testRelativeManifestFileResolvesAgainstCurrentDirectory() throws {
        let document = table(("root", table(("paths", strings("x")))))
        let manifest = try Manifest(file: "sub/pyloader.toml", source: "", document: document,
                                    fileExists: { _ in (true, true) })
        let currentDirectory = FileManager.default.currentDirectoryPath
        XCTAssertEqual(manifest.root.paths, [(currentDirectory == "/" ? "" : currentDirectory) + "/sub/x"])
    }

    func testTildeIsAnOrdinaryFolderName() throws {
        // The temporary folder holds a folder literally named "~".
        let manifest = try Manifest(file: manifestFile, source: "",
                                    document: table(("root", table(("paths", strings("~"))))))
        XCTAssertEqual(manifest.root.paths, [folder + "/~"])
    }

    func testExtensionPoliciesAndDelegationsAreAllAccepted() throws {
        for policy in ExtensionPolicy.allCases {
            for delegation in Delegation.allCases {
                let document = table(("loaders", table(("p", table(
                    ("delegation", .string(delegation.rawValue)), ("extensions", .string(policy.rawValue)))))))
                let spec = try XCTUnwrap(Manifest(file: "f.toml", source: "", document: document).loaders.first)
                XCTAssertEqual(spec.extensions, policy)
                XCTAssertEqual(spec.delegation, delegation)
            }
        }
    }

    // MARK: - Unknown keys

    func testUnknownKeySuggestsClosestName() {
        let source = """
            [loaders.plugin-a]
            paths = []
            delegaton = "child-first"
            """
        let document = table(("loaders", table(("plugin-a", table(
            ("paths", strings()), ("delegaton", .string("child-first")))))))
        let error = assertManifestError(source, document, loader: "plugin-a", key: "delegaton", line: 3,
                                        messageContains: "did you mean \"delegation\"?")
        XCTAssertEqual(error?.description,
                       "pyloader.toml:3: [loaders.plugin-a] delegaton: unknown key; did you mean \"delegation\"?")
    }

    func testUnknownKeyWithoutCloseMatchListsValidKeys() {
        let source = "[loaders.plugin-a]\ncolour = \"red\"\n"
        let document = table(("loaders", table(("plugin-a", table(("colour", .string("red")))))))
        assertManifestError(source, document, loader: "plugin-a", key: "colour", line: 2,
                            messageContains: "valid keys: parent, paths, delegation, shared, local, extensions")
    }

    func testUnknownTopLevelTableSuggestsLoaders() {
        let source = "[loader.plugin-a]\nparent = \"root\"\n"
        let document = table(("loader", table(("plugin-a", table(("parent", .string("root")))))))
        assertManifestError(source, document, loader: nil, key: "loader", line: 1,
                            messageContains: "did you mean \"loaders\"?")
    }

    func testUnknownRootKeySuggestsClosestName() {
        let source = "[root]\npaths = []\nsystem-site-packages = true\n"
        let document = table(("root", table(("paths", strings()), ("system-site-packages", .boolean(true)))))
        assertManifestError(source, document, loader: "root", key: "system-site-packages", line: 3,
                            messageContains: "did you mean \"system_site_packages\"?")
    }

    // MARK: - Wrong types and values

    func testWrongTypeSaysExpectedAndGot() {
        assertManifestError("[root]\nsystem_site_packages = \"no\"\n",
                            table(("root", table(("system_site_packages", .string("no"))))),
                            loader: "root", key: "system_site_packages", line: 2,
                            messageContains: "expected a boolean, got string \"no\"")
        assertManifestError("[loaders.a]\nparent = 3\n",
                            table(("loaders", table(("a", table(("parent", .integer(3))))))),
                            loader: "a", key: "parent", line: 2,
                            messageContains: "expected a string, got integer 3")
        assertManifestError("[loaders.a]\n\npaths = \"plugins/a\"\n",
                            table(("loaders", table(("a", table(("paths", .string("plugins/a"))))))),
                            loader: "a", key: "paths", line: 3,
                            messageContains: "expected an array of strings, got string \"plugins/a\" (write [\"plugins/a\"])")
        assertManifestError("[loaders.a]\nshared = [\"hostapi\", 2]\n",
                            table(("loaders", table(("a", table(("shared", .array([.string("hostapi"), .integer(2)]))))))),
                            loader: "a", key: "shared", line: 2,
                            messageContains: "expected an array of strings, but item 2 is integer 2")
    }

    func testSectionsThatAreNotTablesAreWrongTypes() {
        assertManifestError("root = 5\n", table(("root", .integer(5))),
                            loader: nil, key: "root", line: 1, messageContains: "expected a table, got integer 5")
        assertManifestError("loaders = [1, 2]\n", table(("loaders", .array([.integer(1), .integer(2)]))),
                            loader: nil, key: "loaders", line: 1,
                            messageContains: "expected a table of loader tables, got array of 2 items")
        assertManifestError("[loaders]\nplugin-a = true\n", table(("loaders", table(("plugin-a", .boolean(true))))),
                            loader: "plugin-a", key: nil, line: 2, messageContains: "expected a table, got boolean true")
        assertManifestError("[[loaders.plugin-a]]\n", table(("loaders", table(("plugin-a", .array([table()]))))),
                            loader: "plugin-a", key: nil, line: 1, messageContains: "expected a table, got array of 1 item")
    }

    func testDocumentThatIsNotATableIsRejected() {
        assertManifestError("", .array([]), loader: nil, key: nil, line: nil,
                            messageContains: "expected a table at the top level")
    }

    func testInvalidDelegationNamesBothChoices() {
        let source = """
            [root]
            paths = []

            [loaders.plugin-a]
            parent = "root"
            paths = []
            delegation = "sideways"
            """
        let document = table(
            ("root", table(("paths", strings()))),
            ("loaders", table(("plugin-a", table(
                ("parent", .string("root")), ("paths", strings()), ("delegation", .string("sideways"))))))
        )
        let error = assertManifestError(source, document, loader: "plugin-a", key: "delegation", line: 7,
                                        messageContains: "expected \"parent-first\" or \"child-first\", got \"sideways\"")
        XCTAssertEqual(error?.description,
                       "pyloader.toml:7: [loaders.plugin-a] delegation: expected \"parent-first\" or \"child-first\", got \"sideways\"")
    }

    func testInvalidExtensionsNamesAllChoices() {
        assertManifestError("[loaders.a]\nextensions = \"link\"\n",
                            table(("loaders", table(("a", table(("extensions", .string("link"))))))),
                            loader: "a", key: "extensions", line: 2,
                            messageContains: "expected \"copy\", \"share\" or \"error\", got \"link\"")
        assertManifestError("[loaders.a]\nextensions = true\n",
                            table(("loaders", table(("a", table(("extensions", .boolean(true))))))),
                            loader: "a", key: "extensions", line: 2,
                            messageContains: "expected \"copy\", \"share\" or \"error\", got boolean true")
    }

    // MARK: - Parents

    func testUnknownParentSuggestsClosestLoader() {
        let source = "[loaders.plugin-a]\n[loaders.plugin-b]\nparent = \"plugin-aa\"\n"
        let document = table(("loaders", table(
            ("plugin-a", table()), ("plugin-b", table(("parent", .string("plugin-aa"))))
        )))
        assertManifestError(source, document, loader: "plugin-b", key: "parent", line: 3,
                            messageContains: "unknown loader \"plugin-aa\"; did you mean \"plugin-a\"?")
    }

    func testUnknownParentWithoutCloseMatchExplainsWhatAParentIs() {
        let document = table(("loaders", table(("a", table(("parent", .string("elsewhere")))))))
        assertManifestError("[loaders.a]\nparent = \"elsewhere\"\n", document, loader: "a", key: "parent", line: 2,
                            messageContains: "a parent is \"root\" or the name of a [loaders.NAME] section")
    }

    func testParentCycleIsNamed() {
        let source = """
            [loaders.x]
            parent = "y"
            [loaders.y]
            parent = "z"
            [loaders.z]
            parent = "x"
            """
        let document = table(("loaders", table(
            ("x", table(("parent", .string("y")))),
            ("y", table(("parent", .string("z")))),
            ("z", table(("parent", .string("x"))))
        )))
        let error = assertManifestError(source, document, loader: "x", key: "parent", line: 2,
                                        messageContains: "parents form a cycle: x -> y -> z -> x")
        XCTAssertEqual(error?.message, "parents form a cycle: x -> y -> z -> x")
    }

    func testLoaderThatIsItsOwnParentIsACycle() {
        let document = table(("loaders", table(("a", table(("parent", .string("a")))))))
        let error = assertManifestError("[loaders.a]\nparent = \"a\"\n", document, loader: "a", key: "parent", line: 2,
                                        messageContains: "parents form a cycle: a -> a")
        XCTAssertEqual(error?.message, "parents form a cycle: a -> a")
    }

    func testCycleIsReportedByItsFirstMemberNotByADescendant() {
        // "d" hangs below the cycle a -> b -> a; the cycle is the error, named from "a".
        let source = """
            [loaders.d]
            parent = "a"
            [loaders.a]
            parent = "b"
            [loaders.b]
            parent = "a"
            """
        let document = table(("loaders", table(
            ("d", table(("parent", .string("a")))),
            ("a", table(("parent", .string("b")))),
            ("b", table(("parent", .string("a"))))
        )))
        let error = assertManifestError(source, document, loader: "a", key: "parent", line: 4,
                                        messageContains: "parents form a cycle: a -> b -> a")
        XCTAssertEqual(error?.message, "parents form a cycle: a -> b -> a")
    }

    // MARK: - Names

    func testLoaderNamedRootIsReserved() {
        let source = "[root]\npaths = []\n\n[loaders.root]\nparent = \"root\"\n"
        let document = table(
            ("root", table(("paths", strings()))),
            ("loaders", table(("root", table(("parent", .string("root"))))))
        )
        assertManifestError(source, document, loader: "root", key: nil, line: 4,
                            messageContains: "the name \"root\" is reserved")
    }

    func testInvalidLoaderNameIsRejected() {
        let error = assertManifestError("[loaders.\"my plugin\"]\n", table(("loaders", table(("my plugin", table())))),
                                        loader: "my plugin", key: nil, line: 1, messageContains: "invalid loader name")
        XCTAssertEqual(error.map { $0.description.contains("[loaders.\"my plugin\"]") }, true)
        assertManifestError("[loaders]\n_hidden = {}\n", table(("loaders", table(("_hidden", table())))),
                            loader: "_hidden", key: nil, line: 2, messageContains: "invalid loader name")
    }

    func testDuplicateLoaderNameIsReportedAtItsSecondDefinition() {
        let source = "[loaders.a]\npaths = []\n[loaders.a]\npaths = []\n"
        let document = table(("loaders", table(("a", table(("paths", strings()))), ("a", table(("paths", strings()))))))
        assertManifestError(source, document, loader: "a", key: nil, line: 3, messageContains: "loader defined twice")
    }

    func testDuplicateKeyIsReported() {
        let source = "[loaders.a]\nlocal = []\nlocal = [\"x\"]\n"
        let document = table(("loaders", table(("a", table(("local", strings()), ("local", strings("x")))))))
        assertManifestError(source, document, loader: "a", key: "local", line: 3, messageContains: "key defined twice")
    }

    func testInvalidModuleNamesAreRejected() {
        assertManifestError("[loaders.a]\nshared = [\"hostapi.v2\"]\n",
                            table(("loaders", table(("a", table(("shared", strings("hostapi.v2"))))))),
                            loader: "a", key: "shared", line: 2,
                            messageContains: "\"hostapi.v2\" is not a top-level module name; write \"hostapi\"")
        assertManifestError("[loaders.a]\nlocal = [\"1st\"]\n",
                            table(("loaders", table(("a", table(("local", strings("1st"))))))),
                            loader: "a", key: "local", line: 2, messageContains: "\"1st\" is not a valid Python module name")
        assertManifestError("[loaders.a]\nlocal = [\"\"]\n",
                            table(("loaders", table(("a", table(("local", strings(""))))))),
                            loader: "a", key: "local", line: 2, messageContains: "\"\" is not a valid Python module name")
    }

    func testUnicodeIdentifiersAreValidModuleNames() throws {
        let document = table(("loaders", table(("a", table(("local", strings("café", "_private", "π2")))))))
        XCTAssertEqual(try Manifest(file: "f", source: "", document: document).loaders.first?.local,
                       ["café", "_private", "π2"])
    }

    func testNameInBothSharedAndLocalIsReportedAtTheSecond() {
        let source = """
            [loaders.a]
            shared = ["hostapi", "greeting"]
            local = ["greeting"]
            """
        let document = table(("loaders", table(("a", table(
            ("shared", strings("hostapi", "greeting")), ("local", strings("greeting")))))))
        assertManifestError(source, document, loader: "a", key: "local", line: 3,
                            messageContains: "\"greeting\" is in both shared and local")
    }

    // MARK: - Paths

    func testMissingPathIsReported() {
        let source = "[loaders.plugin-a]\npaths = [\"plugins/a\", \"plugins/c\"]\n"
        let document = table(("loaders", table(("plugin-a", table(("paths", strings("plugins/a", "plugins/c")))))))
        assertManifestError(source, document, file: manifestFile, useFileSystem: true,
                            loader: "plugin-a", key: "paths", line: 2,
                            messageContains: "path \"plugins/c\" does not exist (resolved to \"\(folder)/plugins/c\")")
    }

    func testPathThatIsAFileIsReported() {
        let source = "[root]\npaths = [\"host\", \"notes.txt\"]\n"
        let document = table(("root", table(("paths", strings("host", "notes.txt")))))
        assertManifestError(source, document, file: manifestFile, useFileSystem: true,
                            loader: "root", key: "paths", line: 2,
                            messageContains: "path \"notes.txt\" is a file, not a folder")
    }

    func testTildeIsNotExpandedAndTheMessageSaysSo() {
        let source = "[root]\npaths = [\"~/lib\"]\n"
        let document = table(("root", table(("paths", strings("~/lib")))))
        assertManifestError(source, document, file: manifestFile, useFileSystem: true,
                            loader: "root", key: "paths", line: 2,
                            messageContains: "resolved to \"\(folder)/~/lib\"); \"~\" is not expanded")
    }

    func testEmptyPathIsRejected() {
        assertManifestError("[root]\npaths = [\"\"]\n", table(("root", table(("paths", strings(""))))),
                            loader: "root", key: "paths", line: 2, messageContains: "a path is empty")
    }

    // MARK: - Order and lines

    func testFirstErrorInFileOrderIsReported() {
        // Loader "b" comes first in the file; its second key is wrong before anything in "a" or [root].
        let source = """
            [loaders.b]
            paths = []
            delegation = 1
            colour = "red"

            [loaders.a]
            parent = "nowhere"

            [root]
            bogus = true
            """
        let document = table(
            ("loaders", table(
                ("b", table(("paths", strings()), ("delegation", .integer(1)), ("colour", .string("red")))),
                ("a", table(("parent", .string("nowhere"))))
            )),
            ("root", table(("bogus", .boolean(true))))
        )
        assertManifestError(source, document, loader: "b", key: "delegation", line: 3,
                            messageContains: "got integer 1")
    }

    func testLinesAreFoundForDottedAndInlineForms() {
        let delegation = table(("loaders", table(("plugin-a", table(("delegation", .string("sideways")))))))
        assertManifestError("[loaders]\nplugin-a.paths = []\nplugin-a.delegation = \"sideways\"\n", delegation,
                            loader: "plugin-a", key: "delegation", line: 3, messageContains: "sideways")
        assertManifestError("# comment\n[loaders]\nplugin-a = { paths = [], delegation = \"sideways\" }\n", delegation,
                            loader: "plugin-a", key: "delegation", line: 3, messageContains: "sideways")
        assertManifestError("\nloaders.plugin-a.delegation = \"sideways\"\n", delegation,
                            loader: "plugin-a", key: "delegation", line: 2, messageContains: "sideways")
        assertManifestError("[root]\n  [ loaders . \"plugin-a\" ]  # indented, quoted\r\n  delegation='sideways'\r\n", delegation,
                            loader: "plugin-a", key: "delegation", line: 3, messageContains: "sideways")
        // The key is not in the text at all (the document came from elsewhere): no line.
        assertManifestError("[loaders.plugin-a]\n", delegation,
                            loader: "plugin-a", key: "delegation", line: nil, messageContains: "sideways")
    }

    // MARK: - Messages

    func testDescriptionLeavesOutWhatIsUnknown() {
        XCTAssertEqual(ManifestError(file: "m.toml", message: "broken").description, "m.toml: broken")
        XCTAssertEqual(ManifestError(file: "m.toml", loader: "root", key: "paths", line: 2, message: "bad").description,
                       "m.toml:2: [root] paths: bad")
        XCTAssertEqual(ManifestError(file: "m.toml", loader: "my.plugin", key: "odd key", message: "bad").description,
                       "m.toml: [loaders.\"my.plugin\"] \"odd key\": bad")
    }

    func testSyntaxErrorNamesFileAndLine() {
        let error = ManifestError.syntaxError(file: "pyloader.toml", message: "Invalid value (at line 3, column 8)", line: 3)
        XCTAssertEqual(error.line, 3)
        XCTAssertNil(error.loader)
        XCTAssertNil(error.key)
        XCTAssertEqual(error.description, "pyloader.toml:3: invalid TOML: Invalid value (at line 3, column 8)")
    }

    func testDescriptionStaysOnOneLineWhateverTheInput() {
        let key = "bad\nkey\u{2028}"
        let document = table(("loaders", table(("a", table((key, .string("x\ny")))))))
        let error = assertManifestError("[loaders.a]\n", document, file: "odd\nname.toml",
                                        loader: "a", key: key, line: nil, messageContains: "unknown key")
        XCTAssertEqual(error?.description, "odd\\nname.toml: [loaders.a] \"bad\\nkey\\u{2028}\": unknown key (valid keys: parent, paths, delegation, shared, local, extensions, gil)")
        let syntax = ManifestError.syntaxError(file: "f", message: "line one\nline two\r\n")
        XCTAssertTrue(isSingleLine(syntax.description))
    }

    func testTableEqualityIsOrderSensitive() {
        XCTAssertEqual(table(("a", .integer(1)), ("b", .integer(2))), table(("a", .integer(1)), ("b", .integer(2))))
        XCTAssertNotEqual(table(("a", .integer(1)), ("b", .integer(2))), table(("b", .integer(2)), ("a", .integer(1))))
        XCTAssertNotEqual(table(("a", .integer(1))), table(("a", .integer(1)), ("a", .integer(1))))
        XCTAssertNotEqual(TOMLValue.string("1"), .datetime("1"))
        XCTAssertEqual(TOMLValue.array([.float(1.5), .boolean(true)]), .array([.float(1.5), .boolean(true)]))
    }

    // MARK: - Fuzzing

    func testRandomDocumentsNeverTrapAndErrorsAreOneLine() {
        var random = SplitMix64(seed: 0x5EED_1234)
        var successes = 0
        var failures = 0
        for _ in 0..<600 {
            let document = randomDocument(&random)
            let source = random.chance(80) ? render(document) : randomText(&random)
            let lineCount = source.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
            // Typed throws: anything thrown is a ManifestError by construction; a trap fails the run.
            do {
                let manifest = try Manifest(file: "fuzz.toml", source: source, document: document, fileExists: fakeFileSystem)
                successes += 1
                var created: Set<String> = ["root"]
                for spec in manifest.loaders {
                    XCTAssertTrue(created.contains(spec.parent), "\(spec.name) created before its parent \(spec.parent)")
                    XCTAssertTrue(created.insert(spec.name).inserted, "duplicate loader \(spec.name)")
                    XCTAssertTrue(spec.paths.allSatisfy { $0.hasPrefix("/") })
                }
            } catch {
                failures += 1
                XCTAssertTrue(isSingleLine(error.description), "not one line: \(error.description.debugDescription)")
                XCTAssertTrue(error.description.hasPrefix("fuzz.toml"), error.description)
                if let line = error.line { XCTAssertTrue((1...lineCount).contains(line), "line \(line) of \(lineCount)") }
            }
        }
        // The generator must exercise both outcomes to be worth anything.
        XCTAssertGreaterThan(successes, 50)
        XCTAssertGreaterThan(failures, 50)
    }

    // MARK: - Helpers

    /// Asserts that validation fails with the given loader, key and line, that the message
    /// holds `messageContains`, and that the description is one line naming the file.
    @discardableResult
    private func assertManifestError(
        _ source: String, _ document: TOMLValue, file: String = "pyloader.toml", useFileSystem: Bool = false,
        loader: String?, key: String?, line: Int?, messageContains: String,
        sourceFile: StaticString = #filePath, sourceLine: UInt = #line
    ) -> ManifestError? {
        do {
            let manifest = useFileSystem
                ? try Manifest(file: file, source: source, document: document)
                : try Manifest(file: file, source: source, document: document, fileExists: { _ in (true, true) })
            XCTFail("expected an error, got \(manifest)", file: sourceFile, line: sourceLine)
            return nil
        } catch {
            XCTAssertEqual(error.file, file, "file", file: sourceFile, line: sourceLine)
            XCTAssertEqual(error.loader, loader, "loader", file: sourceFile, line: sourceLine)
            XCTAssertEqual(error.key, key, "key", file: sourceFile, line: sourceLine)
            XCTAssertEqual(error.line, line, "line", file: sourceFile, line: sourceLine)
            XCTAssertTrue(error.message.contains(messageContains),
                          "message \(error.message.debugDescription) lacks \(messageContains.debugDescription)",
                          file: sourceFile, line: sourceLine)
            XCTAssertTrue(isSingleLine(error.description), "not one line: \(error.description.debugDescription)",
                          file: sourceFile, line: sourceLine)
            let shownFile = file.replacingOccurrences(of: "\n", with: "\\n")
            XCTAssertTrue(error.description.hasPrefix(shownFile), "description \(error.description) lacks the file name",
                          file: sourceFile, line: sourceLine)
            return error
        }
    }
}

// MARK: - Document building

private func table(_ entries: (String, TOMLValue)...) -> TOMLValue {
    .table(entries.map { (key: $0.0, value: $0.1) })
}

private func strings(_ items: String...) -> TOMLValue {
    .array(items.map(TOMLValue.string))
}

/// No scalar that a terminal would take as the end of a line (or any other control character).
private func isSingleLine(_ text: String) -> Bool {
    !text.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0 == "\u{2028}" || $0 == "\u{2029}" }
}

// MARK: - Random documents


/// Paths naming "missing" do not exist, paths naming "file" are files; everything else is a folder.
private func fakeFileSystem(_ path: String) -> (exists: Bool, isDirectory: Bool) {
    if path.contains("missing") { return (false, false) }
    if path.contains("file") { return (true, false) }
    return (true, true)
}

private let loaderNames = ["a", "b", "c", "plugin-a", "plugin.b", "root", "-bad", "bad name", "x\ny", ""]
private let loaderKeys = ["parent", "paths", "delegation", "shared", "local", "extensions",
                          "delegaton", "path", "Shared", "colour", "", "new\nline"]
private let rootKeys = ["paths", "system_site_packages", "system-site-packages", "path", "other"]
private let topKeys = ["root", "loaders", "loader", "roots", "misc"]
private let texts = ["parent-first", "child-first", "copy", "share", "error", "sideways", "root", "a", "b",
                     "hostapi", "greeting", "x.y", "1x", "", "plugins/a", "../up", "/abs", "missing", "a-file",
                     "~/lib", "bad\nline", "sep\u{2028}arator", "café", "\u{0}"]

private func randomValue(_ random: inout SplitMix64, depth: Int = 0) -> TOMLValue {
    switch random.below(depth > 2 ? 6 : 8) {
    case 0: return .integer(Int(bitPattern: UInt(truncatingIfNeeded: random.next())))
    case 1: return .float(random.pick([0.5, -1, .nan, .infinity, 1e300]))
    case 2: return .boolean(random.chance(50))
    case 3: return .datetime(random.pick(["1979-05-27T07:32:00Z", "07:32:00", "bad\ndate"]))
    case 4, 5: return .string(random.pick(texts))
    case 6: return .array((0..<random.below(4)).map { _ in random.chance(70) ? .string(random.pick(texts)) : randomValue(&random, depth: depth + 1) })
    default:
        return .table((0..<random.below(4)).map { _ in (key: random.pick(loaderKeys), value: randomValue(&random, depth: depth + 1)) })
    }
}

/// A value that is usually right for `key`, so that validation gets past type checks often.
private func plausibleValue(for key: String, _ random: inout SplitMix64) -> TOMLValue {
    guard random.chance(75) else { return randomValue(&random) }
    switch key {
    case "parent": return .string(random.pick(["root", "root", "a", "b", "c", "plugin-a", "nowhere"]))
    case "paths": return .array((0..<random.below(3)).map { _ in .string(random.pick(["plugins/a", "host", "./x/../y", "/abs", "missing", "a-file"])) })
    case "delegation": return .string(random.pick(["parent-first", "child-first", "sideways"]))
    case "shared", "local": return .array((0..<random.below(3)).map { _ in .string(random.pick(["hostapi", "greeting", "x.y", "_ok", "1x"])) })
    case "extensions": return .string(random.pick(["copy", "share", "error", "link"]))
    case "system_site_packages": return .boolean(random.chance(50))
    default: return randomValue(&random)
    }
}

private func randomDocument(_ random: inout SplitMix64) -> TOMLValue {
    if random.chance(2) { return randomValue(&random) }
    var top: [(key: String, value: TOMLValue)] = []
    for _ in 0..<random.below(3) + 1 {
        let key = random.chance(85) ? random.pick(["root", "loaders"]) : random.pick(topKeys)
        switch key {
        case "root":
            let keys = (0..<random.below(3)).map { _ in random.chance(85) ? random.pick(Array(rootKeys.prefix(2))) : random.pick(rootKeys) }
            top.append((key, .table(keys.map { (key: $0, value: plausibleValue(for: $0, &random)) })))
        case "loaders":
            let names = (0..<random.below(4)).map { _ in random.chance(85) ? random.pick(Array(loaderNames.prefix(4))) : random.pick(loaderNames) }
            top.append((key, .table(names.map { name in
                guard random.chance(95) else { return (key: name, value: randomValue(&random)) }
                let keys = (0..<random.below(4)).map { _ in random.chance(85) ? random.pick(Array(loaderKeys.prefix(6))) : random.pick(loaderKeys) }
                return (key: name, value: .table(keys.map { (key: $0, value: plausibleValue(for: $0, &random)) }))
            })))
        default:
            top.append((key, randomValue(&random)))
        }
    }
    return .table(top)
}

/// TOML-looking text for a document: headers and `key = value` lines, good enough for line lookups.
private func render(_ document: TOMLValue) -> String {
    guard case .table(let top) = document else { return "" }
    func key(_ text: String) -> String {
        text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) && !text.isEmpty
            ? text : "\"" + text.replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
    func show(_ value: TOMLValue) -> String { "\(value)".replacingOccurrences(of: "\n", with: " ") }
    var lines: [String] = []
    func section(_ header: String, _ value: TOMLValue) {
        guard case .table(let entries) = value else {
            lines.append("\(header) = \(show(value))")
            return
        }
        lines.append("[\(header)]")
        for (name, entry) in entries { lines.append("\(key(name)) = \(show(entry))") }
    }
    for (name, entry) in top {
        if name == "loaders", case .table(let loaders) = entry {
            for (loader, spec) in loaders { section("loaders.\(key(loader))", spec) }
        } else {
            section(key(name), entry)
        }
    }
    return lines.joined(separator: "\n")
}

private func randomText(_ random: inout SplitMix64) -> String {
    let pieces = ["[loaders.a]", "[root]", "paths = []", "parent = \"b\"", "\"", "[", "=", "a.b.c = 1", "\r\n", "\n", " ", "'x'"]
    return (0..<random.below(20)).map { _ in random.pick(pieces) }.joined()
}
