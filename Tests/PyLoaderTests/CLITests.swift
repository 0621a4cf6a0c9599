import Foundation
import XCTest

/// The `pyloader` command, run as a subprocess: exit statuses, messages and output.
///
/// `swift test` builds every target of the package, the executable included, into the
/// folder that holds the test bundle; that is where these tests find it.
final class CLITests: XCTestCase {
    /// The package folder: `<package>/Tests/PyLoaderTests/CLITests.swift`.
    private static let package: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()
    private static let fixtures = package + "/Fixtures"
    private static let demoManifest = fixtures + "/demo/pyloader.toml"

    /// The built executable: `$PYLOADER_EXECUTABLE`, else next to the running test
    /// bundle, else in `.build/debug`.
    private static let executable: String? = {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["PYLOADER_EXECUTABLE"] { candidates.append(explicit) }
        if let bundle = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append((bundle as NSString).deletingLastPathComponent + "/pyloader")
        }
        candidates.append(package + "/.build/debug/pyloader")
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    private var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("CLITests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder + "/plugins/a", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    // MARK: - Manifest and usage errors

    /// Every class of manifest error: exit status 2 and one line on stderr naming the
    /// file, the loader and the key (and the line).
    func testManifestErrorsExitTwoWithOneLineNamingFileLoaderAndKey() throws {
        let cases: [(source: String, expected: [String])] = [
            ("[loaders.a]\ncolour = 1\n", [":2:", "[loaders.a]", "colour", "unknown key"]),
            ("[loaders.a]\ndelegation = 3\n", [":2:", "[loaders.a]", "delegation", "got integer 3"]),
            ("[loaders.a]\nparent = \"nowhere\"\n", [":2:", "[loaders.a]", "parent", "unknown loader"]),
            ("[loaders.a]\nparent = \"b\"\n[loaders.b]\nparent = \"a\"\n", [":2:", "[loaders.a]", "parent", "cycle"]),
            ("[loaders.\"no good\"]\n", [":1:", "[loaders.\"no good\"]", "invalid loader name"]),
            ("[loaders.root]\n", [":1:", "[root]", "reserved"]),
            ("[loaders.a]\npaths = [\"plugins/typo\"]\n", [":2:", "[loaders.a]", "paths", "does not exist"]),
            ("[root]\nsystem_site_packages = \"yes\"\n", [":2:", "[root]", "system_site_packages", "boolean"]),
            ("[loaders.a]\npaths = [\"plugins/a\"\n", [":3:", "invalid TOML"]),
            ("[loaders.a]\n[loaders.a]\n", [":2:", "invalid TOML", "twice"]),
        ]
        let file = folder + "/pyloader.toml"
        for example in cases {
            try example.source.write(toFile: file, atomically: true, encoding: .utf8)
            let result = try pyloader(["tree", "--manifest", file])
            let context = "for \(example.source.debugDescription): \(result)"
            XCTAssertEqual(result.status, 2, context)
            XCTAssertEqual(result.stderrLines.count, 1, context)
            XCTAssertTrue(result.stderr.hasPrefix(file + ":"), context)
            for part in example.expected {
                XCTAssertTrue(result.stderr.contains(part), "\(part.debugDescription) missing " + context)
            }
            XCTAssertEqual(result.stdout, "", context)
        }
    }

    func testManifestErrorStopsRunBeforeTheProgramRuns() throws {
        let file = folder + "/pyloader.toml"
        try "[loaders.a]\ndelegation = \"sideways\"\n".write(toFile: file, atomically: true, encoding: .utf8)
        let result = try pyloader(["run", "--manifest", file, "-c", "print('ran')"])
        XCTAssertEqual(result.status, 2, "\(result)")
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderrLines, ["\(file):2: [loaders.a] delegation: expected \"parent-first\" or \"child-first\", got \"sideways\""])
    }

    func testDefaultManifestIsTheOneInTheCurrentFolder() throws {
        try "[loaders.a]\npaths = [\"plugins/a\"]\n".write(toFile: folder + "/pyloader.toml", atomically: true, encoding: .utf8)
        let result = try pyloader(["run", "--in", "a", "-c", "import pyloader; print(pyloader.current().name)"], in: folder)
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertEqual(result.stdout, "a\n")
    }

    func testMissingManifestFileExitsTwo() throws {
        let result = try pyloader(["tree", "--manifest", folder + "/absent.toml"])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.stderrLines.count, 1, "\(result)")
        XCTAssertTrue(result.stderr.contains(folder + "/absent.toml"), "\(result)")
    }

    func testUnknownLoaderForInIsAUsageError() throws {
        let result = try pyloader(["run", "--manifest", Self.demoManifest, "--in", "gamma", "-c", "pass"])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.stderrLines.count, 1, "\(result)")
        XCTAssertTrue(result.stderr.contains(Self.demoManifest) && result.stderr.contains("'gamma'"), "\(result)")
    }

    /// No program with standard input not a terminal (here /dev/null) runs what standard
    /// input holds, as `python3 < /dev/null` does (issue 16); -c with -m is a usage error.
    func testNoProgramReadsStandardInputAndConflictingProgramsAreAUsageError() throws {
        let empty = try pyloader(["run"])
        XCTAssertEqual(empty.status, 0, "\(empty)")
        XCTAssertEqual(empty.stdout, "", "\(empty)")
        let result = try pyloader(["run", "-c", "pass", "-m", "json"])
        XCTAssertEqual(result.status, 2, "\(result)")
        XCTAssertTrue(result.stderr.contains("give only one of -c and -m"), "\(result)")
    }

    func testHelpGoesToStdoutWithStatusZero() throws {
        let result = try pyloader(["test", "--help"])
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertTrue(result.stdout.contains("USAGE: pyloader test"), "\(result)")
        XCTAssertEqual(result.stderr, "")
    }

    // MARK: - run

    func testRunCodeSetsArgvAndReturnsTheExitStatus() throws {
        let result = try pyloader(["run", "-c", "import json, sys; print(json.dumps(sys.argv)); sys.exit(3)", "a", "--b"])
        XCTAssertEqual(result.status, 3, "\(result)")
        XCTAssertEqual(result.stdout, "[\"-c\", \"a\", \"--b\"]\n")
    }

    func testRunModuleSetsArgvLikePythonDashM() throws {
        let result = try pyloader(["run", "-m", "echo_mod", "x", "y z"], in: Self.fixtures + "/scripts")
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertEqual(result.stdout, "[\"\(Self.fixtures)/scripts/echo_mod/__main__.py\", \"x\", \"y z\"]\n")
    }

    func testRunScriptSetsArgvAndReturnsItsExitStatus() throws {
        let script = Self.fixtures + "/scripts/argv_echo.py"
        let echo = try pyloader(["run", script, "one", "two words"])
        XCTAssertEqual(echo.status, 0, "\(echo)")
        XCTAssertEqual(echo.stdout, "[\"\(script)\", \"one\", \"two words\"]\n")
        let exit = try pyloader(["run", Self.fixtures + "/scripts/exit_code.py", "7"])
        XCTAssertEqual(exit.status, 7, "\(exit)")
    }

    /// As `python`: a script's real folder (a relative path made absolute, a symbolic link
    /// resolved), the absolute current folder for -m, "" for -c.
    func testSysPathZeroIsWhatPythonPutsThere() throws {
        try FileManager.default.createDirectory(atPath: folder + "/real", withIntermediateDirectories: true)
        try "import sys; print(sys.path[0])\n".write(toFile: folder + "/real/show.py", atomically: true, encoding: .utf8)
        XCTAssertEqual(symlink(folder + "/real/show.py", folder + "/link.py"), 0)
        let resolved = try XCTUnwrap(realpath(folder, nil).map { String(cString: $0) })
        for (arguments, expected) in [(["run", "real/show.py"], resolved + "/real"),
                                      (["run", "link.py"], resolved + "/real"),
                                      (["run", "-m", "link"], resolved),
                                      (["run", "-c", "import sys; print(repr(sys.path[0]))"], "''")] {
            let result = try pyloader(arguments, in: folder)
            XCTAssertEqual(result.status, 0, "\(result)")
            XCTAssertEqual(result.stdout, expected + "\n", "\(arguments)")
        }
    }

    func testUncaughtExceptionPrintsItsTracebackAndExitsOne() throws {
        let result = try pyloader(["run", Self.fixtures + "/scripts/raises.py"])
        XCTAssertEqual(result.status, 1, "\(result)")
        XCTAssertTrue(result.stderr.contains("Traceback (most recent call last):"), "\(result)")
        XCTAssertTrue(result.stderr.hasSuffix("ValueError: from script\n"), "\(result)")
    }

    /// As `python`: the file, the line, the caret and the message, status 1 (it printed
    /// nothing: closing the script file cleared the pending SyntaxError).
    func testAScriptThatDoesNotCompileSaysWhyAndExitsOne() throws {
        try "x = (\n".write(toFile: folder + "/broken.py", atomically: true, encoding: .utf8)
        let result = try pyloader(["run", folder + "/broken.py"])
        XCTAssertEqual(result.status, 1, "\(result)")
        XCTAssertTrue(result.stderr.contains("File \"\(folder)/broken.py\", line 1"), "\(result)")
        XCTAssertTrue(result.stderr.hasSuffix("SyntaxError: '(' was never closed\n"), "\(result)")
    }

    func testRunInsideAManifestLoaderWithEveryLoaderCreatedFirst() throws {
        let code = "import greeting, pyloader; print(greeting.__version__, sorted(l.name for l in pyloader.loaders()))"
        let result = try pyloader(["run", "--manifest", Self.demoManifest, "--in", "beta", "-c", code])
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertEqual(result.stdout, "2.0 ['alpha', 'beta', 'host', 'root']\n")
    }

    // MARK: - tree and which

    func testTreeShowsNamesDelegationPathsAndSharedNames() throws {
        let result = try pyloader(["tree", "--manifest", Self.demoManifest])
        XCTAssertEqual(result.status, 0, "\(result)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.dropFirst().first, "root")
        for expected in ["└── host  parent-first", "├── alpha  child-first", "└── beta  child-first",
                         "paths: plugins/alpha, plugins/alpha/site-packages", "shared: hostapi"] {
            XCTAssertTrue(lines.contains { $0.contains(expected) }, "\(expected.debugDescription) missing in\n\(result.stdout)")
        }
    }

    func testWhichNamesTheDefiningLoaderAndTheFile() throws {
        let own = try pyloader(["which", "--manifest", Self.demoManifest, "--in", "alpha", "greeting"])
        XCTAssertEqual(own.status, 0, "\(own)")
        XCTAssertTrue(own.stdout.contains("loader 'alpha'"), own.stdout)
        XCTAssertTrue(own.stdout.contains(Self.fixtures + "/demo/plugins/alpha/site-packages/greeting/__init__.py"), own.stdout)

        let shared = try pyloader(["which", "--manifest", Self.demoManifest, "--in", "beta", "hostapi"])
        XCTAssertEqual(shared.status, 0, "\(shared)")
        XCTAssertTrue(shared.stdout.contains("loader 'host'"), shared.stdout)
        XCTAssertTrue(shared.stdout.contains(Self.fixtures + "/demo/host/hostapi/__init__.py"), shared.stdout)
    }

    func testWhichSaysNotFoundAndExitsOne() throws {
        let result = try pyloader(["which", "--manifest", Self.demoManifest, "--in", "host", "greeting"])
        XCTAssertEqual(result.status, 1, "\(result)")
        XCTAssertTrue(result.stdout.contains("not found"), "\(result)")
    }

    // MARK: - test

    func testIsolatedRunOfTheInterferingSuitePasses() throws {
        let result = try pyloader(["test", Self.fixtures + "/testsuite/interfering"])
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertEqual(result.stdoutLines.last, "6 passed, 0 failed, 1 skipped")
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.fixtures + "/testsuite/interfering/__pycache__"),
                       "the test run wrote bytecode into the fixtures")
    }

    /// unittest is shared from the parent for speed; mock.patch in a test must still
    /// patch the fresh loader's own modules (the child is the context loader meanwhile),
    /// and leave the parent's untouched.
    func testMockPatchInAFreshLoaderPatchesThatLoadersModules() throws {
        let result = try pyloader(["test", Self.fixtures + "/testsuite/mocking"])
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertEqual(result.stdoutLines.last, "2 passed, 0 failed")
    }

    /// The control: the same suite in one interpreter, as plain unittest runs it, fails.
    func testTheInterferingSuiteFailsInOneInterpreter() throws {
        let python = "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else { throw XCTSkip("\(python) is missing") }
        let suite = Self.fixtures + "/testsuite/interfering"
        let result = try run(python, ["-I", "-S", "-B", "-m", "unittest", "discover", "-s", suite, "-t", suite])
        XCTAssertNotEqual(result.status, 0, "\(result)")
        XCTAssertTrue(result.stderr.contains("FAILED (failures=3"), "\(result)")
    }

    func testIsolatingEachTestPassesWhereIsolatingEachModuleFails() throws {
        let suite = Self.fixtures + "/testsuite/pertest"
        let perTest = try pyloader(["test", "--isolate", "test", suite])
        XCTAssertEqual(perTest.status, 0, "\(perTest)")
        XCTAssertEqual(perTest.stdoutLines.last, "2 passed, 0 failed, 1 skipped")

        let perModule = try pyloader(["test", "--isolate", "module", suite])
        XCTAssertEqual(perModule.status, 1, "\(perModule)")
        XCTAssertEqual(perModule.stdoutLines.last, "1 passed, 1 failed, 1 skipped")
        XCTAssertTrue(perModule.stdout.contains("FAIL: test_b_expects_pristine"), perModule.stdout)
    }

    func testFailingSuiteExitsOneAndCountsTheUnimportableModuleAsFailed() throws {
        let result = try pyloader(["test", Self.fixtures + "/testsuite/failing"])
        XCTAssertEqual(result.status, 1, "\(result)")
        XCTAssertEqual(result.stdoutLines.last, "1 passed, 2 failed")
        XCTAssertTrue(result.stdout.contains("FAIL: test_fails (test_fails.Mixed.test_fails)"), result.stdout)
        XCTAssertTrue(result.stdout.contains("AssertionError: 2 != 3 : deliberate failure"), result.stdout)
        XCTAssertTrue(result.stdout.contains("ERROR: test_unimportable"), result.stdout)
        XCTAssertTrue(result.stdout.contains("ImportError: test_unimportable cannot be imported (deliberately)"), result.stdout)
    }

    func testTestRunsEveryPathAndGoesOnAfterFailures() throws {
        let result = try pyloader(["test", Self.fixtures + "/testsuite/failing", Self.fixtures + "/testsuite/interfering"])
        XCTAssertEqual(result.status, 1, "\(result)")
        XCTAssertEqual(result.stdoutLines.last, "7 passed, 2 failed, 1 skipped")
    }

    /// Fresh loaders are children of `--in` with its own paths as theirs: the code under test
    /// loads fresh in each and uses the tests' standard library (`random` is the same module;
    /// real suites failed when it came from `--in`); what `--in` takes from its parents is
    /// still delegated, and closing a fresh loader leaves those modules intact for the next
    /// test (a regression test: ending a sub-interpreter used to clear the dicts of the
    /// modules delegated to it).
    func testFreshLoadersLoadTheCodeUnderTestThemselvesAndDelegateTheRest() throws {
        for sub in ["host", "lib", "tests"] {
            try FileManager.default.createDirectory(atPath: folder + "/" + sub, withIntermediateDirectories: true)
        }
        try "VALUE = 1\n".write(toFile: folder + "/host/hostmod.py", atomically: true, encoding: .utf8)
        try "import random, hostmod\ndef pick(items):\n    return random.choice(items)\n"
            .write(toFile: folder + "/lib/libmod.py", atomically: true, encoding: .utf8)
        try "[root]\npaths = [\"host\"]\n\n[loaders.lib]\npaths = [\"lib\"]\n"
            .write(toFile: folder + "/pyloader.toml", atomically: true, encoding: .utf8)
        let test = """
            import random, unittest, libmod, hostmod, pyloader
            class UsesLib(unittest.TestCase):
                def test_code_under_test_is_fresh_and_shares_the_tests_stdlib(self):
                    self.assertEqual(pyloader.defining_loader(libmod), pyloader.current())
                    self.assertEqual(pyloader.current().parent.name, "lib")
                    self.assertIs(libmod.random, random)
                    random.seed(7)
                    first = libmod.pick(range(1000))
                    random.seed(7)
                    self.assertEqual(libmod.pick(range(1000)), first)
                def test_value_first(self):
                    self.assertEqual(pyloader.defining_loader(hostmod).name, "root")
                    self.assertEqual(hostmod.VALUE, 1)
                def test_value_second(self):
                    self.assertEqual(hostmod.VALUE, 1)
            """
        try test.write(toFile: folder + "/tests/test_lib.py", atomically: true, encoding: .utf8)
        for isolation in ["module", "test"] {
            let result = try pyloader(["test", "--in", "lib", "--isolate", isolation, "tests"], in: folder)
            XCTAssertEqual(result.status, 0, "--isolate \(isolation): \(result)")
            XCTAssertEqual(result.stdoutLines.last, "3 passed, 0 failed", "--isolate \(isolation)")
        }
    }

    /// A test that leaves its object in a module of the root: reported under its test module
    /// (issue 10's leak report); the clean module reports nothing.
    func testTestReportsReferencesThatOutliveTheTestLoader() throws {
        let suite = Self.fixtures + "/testsuite/leaking"
        let result = try pyloader(["test", "--manifest", suite + "/pyloader.toml", "--in", "plugins", suite + "/tests"])
        XCTAssertEqual(result.status, 0, "\(result)")
        let leakLines = result.stdoutLines.filter { $0.contains("holds") }
        XCTAssertEqual(leakLines.count, 1, "\(result)")
        XCTAssertTrue(leakLines.first?.hasPrefix("  test_leaks: leakreg.items[0] in loader 'root' holds test_leaks.Thing instance") ?? false,
                      "\(result)")
        let clean = try pyloader(["test", Self.fixtures + "/testsuite/interfering"])
        XCTAssertFalse(clean.stdout.contains("outlived"), "\(clean)")
    }

    /// A test module that leaves a daemon thread running: its loader cannot close (ending an
    /// interpreter under a running thread aborts CPython), so it stays open after a grace
    /// period, the report says so, and the counts are the tests' own (as plain unittest).
    func testALoaderWhoseTestsLeaveAThreadRunningStaysOpenAndIsReported() throws {
        let result = try pyloader(["test", Self.fixtures + "/testsuite/lingering"])
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertEqual(result.stdoutLines.last, "1 passed, 0 failed")
        XCTAssertTrue(result.stdout.contains("test_daemon: loader 'test-1' stays open: 1 thread(s)"), result.stdout)
        XCTAssertTrue(result.stdout.contains("(1 loader made, 1 left open)"), result.stdout)
    }

    func testMissingTestPathIsAUsageError() throws {
        let result = try pyloader(["test", folder + "/nothing-here"])
        XCTAssertEqual(result.status, 2, "\(result)")
        XCTAssertEqual(result.stderrLines.count, 1, "\(result)")
    }

    // MARK: - demo

    func testDemoRunsFromAnyFolderAndShowsBothVersions() throws {
        let result = try pyloader(["demo"], in: folder)
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertTrue(result.stdout.contains("greeting 1.0"), result.stdout)
        XCTAssertTrue(result.stdout.contains("greeting 2.0"), result.stdout)
        XCTAssertTrue(result.stdout.contains("describe() was defined by loader 'host'"), result.stdout)
        XCTAssertEqual(result.stderr, "")
    }

    // MARK: - Running processes

    struct Result: CustomStringConvertible {
        let status: Int32
        let stdout: String
        let stderr: String

        var stdoutLines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }
        var stderrLines: [String] { stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }
        var description: String { "status \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)---" }
    }

    /// Runs the built `pyloader`; skips the test when it has not been built.
    private func pyloader(_ arguments: [String], in directory: String? = nil) throws -> Result {
        guard let executable = Self.executable else {
            throw XCTSkip("the pyloader executable was not found next to the test bundle nor in .build/debug; run `swift build` first")
        }
        return try run(executable, arguments, in: directory)
    }

    /// Runs a program to completion, its output captured in files (pipes could fill up
    /// and block it). `PYTHONDONTWRITEBYTECODE` keeps the fixtures free of `__pycache__`.
    private func run(_ executable: String, _ arguments: [String], in directory: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory ?? Self.package)
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        process.environment = environment
        let outFile = folder + "/stdout-\(UUID().uuidString)", errFile = folder + "/stderr-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: outFile, contents: nil)
        _ = FileManager.default.createFile(atPath: errFile, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outFile))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errFile))
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return Result(status: process.terminationStatus,
                      stdout: try String(contentsOfFile: outFile, encoding: .utf8),
                      stderr: try String(contentsOfFile: errFile, encoding: .utf8))
    }
}
