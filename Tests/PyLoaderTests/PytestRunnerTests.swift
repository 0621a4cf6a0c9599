import Foundation
import XCTest

/// `pyloader test` with pytest (issue 12), checked against real pytest: each row runs the
/// same suite under `python -m pytest` and under `pyloader test` (in subprocesses, with a
/// time limit) and compares what pytest reports — the summary line, the short summary,
/// the exit status. pytest comes from `.test-deps/pytest` (`Scripts/install-test-deps`,
/// pinned); without it the rows skip and say how to get it.
final class PytestRunnerTests: XCTestCase {
    private static let package = (fixtures as NSString).deletingLastPathComponent
    private static let suites = package + "/Fixtures/pytest"

    /// `.test-deps/pytest`, installed once per test run when missing; nil when it cannot be.
    private static let pytestFolder: String? = {
        let folder = package + "/.test-deps/pytest"
        if !FileManager.default.fileExists(atPath: folder + "/pytest") {
            let install = Process()
            install.executableURL = URL(fileURLWithPath: package + "/Scripts/install-test-deps")
            install.standardOutput = FileHandle.nullDevice
            install.standardError = FileHandle.nullDevice
            try? install.run()
            install.waitUntilExit()
        }
        return FileManager.default.fileExists(atPath: folder + "/pytest") ? folder : nil
    }()

    /// The python of the libpython the CLI runs (3.11 or a `.python/` build), to run real
    /// pytest with; asked of the CLI (starting CPython in this process would fix its
    /// configuration for the other tests).
    private static let python: String? = {
        guard let executable = cliExecutable() else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["run", "-c", "import sys; print(f'{sys.base_prefix}/bin/python{sys.version_info[0]}.{sys.version_info[1]}')"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let path = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()

    private var folder = ""
    private var manifest = ""

    override func setUpWithError() throws {
        guard let pytest = Self.pytestFolder else {
            throw XCTSkip("pytest is not installed in .test-deps/pytest and Scripts/install-test-deps could not install it")
        }
        guard Self.python != nil else { throw XCTSkip("no python executable next to this libpython's prefix") }
        guard cliExecutable() != nil else { throw XCTSkip("the pyloader executable is not built next to the test bundle") }
        folder = try temporaryFolder()
        manifest = folder + "/pyloader.toml"
        try "[loaders.tests]\npaths = [\"\(pytest)\"]\n".write(toFile: manifest, atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        if !folder.isEmpty { try? FileManager.default.removeItem(atPath: folder) }
    }

    // MARK: - The report is pytest's

    /// Fixtures of every scope, parametrize, marks, skip/xfail, a failing assertion (with
    /// pytest's rewriting), an error in a fixture and a warning: the same counts, the same
    /// short summary and the same exit status as pytest. No PATH: pytest.ini's testpaths.
    func testFeatureSuiteReportsWhatPytestReports() throws {
        let suite = Self.suites + "/features"
        let expected = try pytest([], in: suite)
        XCTAssertEqual(expected.status, 1, "\(expected)")
        XCTAssertEqual(summary(expected), "1 failed, 22 passed, 3 skipped, 1 xfailed, 1 xpassed, 1 warning, 1 error",
                       "the fixture changed: \(expected)")
        let result = try pyloader([], in: suite)
        XCTAssertEqual(result.status, expected.status, "\(result)")
        XCTAssertEqual(summary(result), summary(expected), "\(result)")
        XCTAssertEqual(lines(result, startingWith: ["FAILED ", "ERROR "]), lines(expected, startingWith: ["FAILED ", "ERROR "]))
        XCTAssertEqual(lines(result, startingWith: ["collected "]), ["collected 29 items"])
        // pytest's assertion rewriting, done in the fresh loader.
        XCTAssertTrue(result.stdout.contains("E       assert 3 == 4\nE        +  where 3 = compute()"), "\(result)")
        XCTAssertTrue(result.stdout.contains("UserWarning: a warning from a test"), "\(result)")
    }

    /// A fresh loader per test: what pytest reports for the suite's files whose tests do not
    /// share class-scoped state (a class fixture is per loader under --isolate test).
    func testIsolatePerTestReportsWhatPytestReports() throws {
        let suite = Self.suites + "/features"
        let files = ["tests/test_params.py", "tests/test_marks.py", "tests/test_failing.py"]
        let expected = try pytest(files, in: suite)
        let result = try pyloader(["--isolate", "test"] + files, in: suite)
        XCTAssertEqual(result.status, expected.status, "\(result)")
        XCTAssertEqual(summary(result), summary(expected), "\(result)")
        XCTAssertEqual(lines(result, startingWith: ["FAILED ", "ERROR "]), lines(expected, startingWith: ["FAILED ", "ERROR "]))
    }

    /// pytest's options after --, each compared with pytest given the same ones.
    func testPytestOptionsAfterTheTerminatorActAsUnderPytest() throws {
        let suite = Self.suites + "/features"
        let cases: [[String]] = [
            ["-k", "params or sub"],
            ["-m", "not slow"],
            ["-x"],
            ["--deselect", "tests/test_marks.py::test_slow", "--tb=line"],
            ["-q", "-rfE"],
            ["-v", "tests/test_params.py"],
        ]
        for arguments in cases {
            let expected = try pytest(arguments, in: suite)
            let result = try pyloader(["--"] + arguments, in: suite)
            let context = "pytest \(arguments.joined(separator: " ")): \(result)"
            XCTAssertEqual(result.status, expected.status, context)
            XCTAssertEqual(summary(result), summary(expected), context)
            XCTAssertEqual(lines(result, startingWith: ["FAILED ", "ERROR ", "collected ", "collecting "]),
                           lines(expected, startingWith: ["FAILED ", "ERROR ", "collected ", "collecting "]), context)
            if arguments.contains("-v") {
                XCTAssertEqual(lines(result, startingWith: ["tests/"]).map { $0.prefix(60) },
                               lines(expected, startingWith: ["tests/"]).map { $0.prefix(60) }, context)
            }
        }
    }

    /// Exit statuses 2 (collection error), 4 (usage error, missing path) and 5 (no tests), as pytest.
    func testExitStatusesAreThoseOfPytest() throws {
        let suite = try makeSuite("broken", ["conftest.py": "", "test_ok.py": "def test_ok():\n    pass\n",
                                             "test_syntax.py": "def test_broken(:\n    pass\n"])
        let cases: [(arguments: [String], status: Int32)] = [
            ([suite], 2),
            ([suite, "--", "--continue-on-collection-errors"], 1),
            ([suite + "/test_ok.py", "--", "--no-such-option"], 4),
            ([suite + "/nowhere.py"], 4),
            ([suite + "/test_ok.py", "--", "-k", "nothing_matches"], 5),
            ([suite + "/test_ok.py"], 0),
        ]
        for (arguments, status) in cases {
            let pytestArguments = arguments.filter { $0 != "--" }
            let expected = try pytest(pytestArguments, in: suite)
            let result = try pyloader(["--runner", "pytest"] + arguments, in: suite)
            let context = "\(arguments.joined(separator: " ")): \(result)"
            XCTAssertEqual(expected.status, status, "pytest: \(expected)")
            XCTAssertEqual(result.status, status, context)
            if status != 4 {
                XCTAssertEqual(summary(result), summary(expected), context)
            } else {
                XCTAssertTrue(result.stderr.contains("ERROR: ") || result.stderr.contains("error: "), context)
            }
        }
    }

    // MARK: - Isolation

    /// One test leaves a module in sys.modules and changes a helper's global; plain pytest
    /// fails the tests that come after it, a fresh loader per module (per test) fails only
    /// the one in the same module (none).
    func testEachModuleOrTestSeesFreshState() throws {
        let suite = Self.suites + "/isolation"
        let plain = try pytest([suite], in: suite)
        XCTAssertEqual(summary(plain), "2 failed, 1 passed", "\(plain)")
        let perModule = try pyloader([suite], in: suite)
        XCTAssertEqual(perModule.status, 1, "\(perModule)")
        XCTAssertEqual(summary(perModule), "1 failed, 2 passed", "\(perModule)")
        XCTAssertEqual(lines(perModule, startingWith: ["FAILED "]).map { $0.prefix(48) },
                       ["FAILED test_a_pollutes.py::test_sees_fresh_state"], "\(perModule)")
        let perTest = try pyloader(["--isolate", "test", suite], in: suite)
        XCTAssertEqual(perTest.status, 0, "\(perTest)")
        XCTAssertEqual(summary(perTest), "3 passed", "\(perTest)")
        // Only the worker's loaders hold the tests: none is left open, nothing leaked.
        XCTAssertFalse(perTest.stdout.contains(" pyloader "), "\(perTest)")
    }

    // MARK: - Files the run writes

    /// --junitxml is written once, by the controller, with pytest's counts.
    func testJunitXMLHasPytestsCounts() throws {
        let suite = Self.suites + "/features"
        let expectedFile = folder + "/expected.xml", resultFile = folder + "/result.xml"
        _ = try pytest(["--junitxml", expectedFile], in: suite)
        let result = try pyloader(["--", "--junitxml", resultFile], in: suite)
        XCTAssertEqual(result.status, 1, "\(result)")
        func counts(_ file: String) throws -> [String] {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            return ["tests", "failures", "errors", "skipped"].map { name in
                guard let range = text.range(of: " \(name)=\"[0-9]+\"", options: .regularExpression) else { return "" }
                return String(text[range])
            }
        }
        XCTAssertEqual(try counts(resultFile), try counts(expectedFile))
        XCTAssertEqual(try counts(resultFile).first, " tests=\"29\"")
    }

    /// --collect-only lists what pytest lists, and imports the tests only in a loader that closes.
    func testCollectOnlyListsWhatPytestLists() throws {
        let suite = Self.suites + "/features"
        let expected = try pytest(["--collect-only", "-q"], in: suite)
        let result = try pyloader(["--", "--collect-only", "-q"], in: suite)
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertEqual(lines(result, startingWith: ["tests/"]), lines(expected, startingWith: ["tests/"]))
        XCTAssertEqual(lines(result, startingWith: ["tests/"]).count, 29)
    }

    // MARK: - Choosing the runner

    /// Without pytest on --in's paths: --runner pytest is a usage error naming the loader
    /// and how to install pytest; auto runs the suite with unittest and says why.
    func testWithoutPytestTheRunnerSaysSo() throws {
        let suite = Self.suites + "/isolation"
        let empty = folder + "/empty"   // no pyloader.toml: the root alone, without pytest
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let forced = try run(cliExecutable()!, ["test", "--runner", "pytest", suite], in: empty)
        XCTAssertEqual(forced.status, 2, "\(forced)")
        XCTAssertTrue(forced.stderr.contains("pytest is not importable from loader 'root'"), "\(forced)")
        XCTAssertTrue(forced.stderr.contains("pip install --target"), "\(forced)")
        let auto = try run(cliExecutable()!, ["test", suite], in: empty)
        XCTAssertEqual(auto.status, 0, "\(auto)")
        XCTAssertTrue(auto.stderr.contains("looks like a pytest suite, but pytest is not importable"), "\(auto)")
        XCTAssertTrue(auto.stdout.contains("0 passed, 0 failed"), "\(auto)")
    }

    /// auto: pytest for a suite with a conftest.py or plain test functions, unittest for a
    /// TestCase-only suite (even with pytest importable); --runner unittest on a pytest suite.
    func testAutoChoosesTheRunnerFromTheSuite() throws {
        let pytestSuite = try pyloader([Self.suites + "/isolation"], in: folder)
        XCTAssertTrue(pytestSuite.stdout.contains("test session starts"), "\(pytestSuite)")
        let unittestSuite = try run(cliExecutable()!, ["test", "--manifest", manifest, "--in", "tests",
                                                         Self.package + "/Fixtures/testsuite/interfering"], in: folder)
        XCTAssertEqual(unittestSuite.status, 0, "\(unittestSuite)")
        XCTAssertFalse(unittestSuite.stdout.contains("test session starts"), "\(unittestSuite)")
        XCTAssertTrue(unittestSuite.stdout.contains(" passed, 0 failed"), "\(unittestSuite)")
        let forced = try run(cliExecutable()!, ["test", "--manifest", manifest, "--in", "tests", "--runner", "unittest",
                                                  Self.suites + "/isolation"], in: folder)
        XCTAssertFalse(forced.stdout.contains("test session starts"), "\(forced)")
        // Test functions outside classes, nothing else: pytest's (unittest would run none).
        let plain = folder + "/plain"
        try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
        try "def test_one():\n    assert True\n".write(toFile: plain + "/test_plain.py", atomically: true, encoding: .utf8)
        let functions = try pyloader([plain], in: folder)
        XCTAssertEqual(functions.status, 0, "\(functions)")
        XCTAssertEqual(summary(functions), "1 passed", "\(functions)")
    }

    // MARK: - The depth a test runs at

    /// A test runs on the thread `threading` calls the main one, and at the recursion depth it
    /// has under `python -m pytest`: the fresh loaders are run by the main thread, entered from
    /// outside every loader, not from inside the controller's session (whose thread imported
    /// `threading` in them first, for a while, so that it was their "main thread"). On
    /// 3.11, which carries one depth across loaders, a test started about 60 levels deeper
    /// before, and `sys.setrecursionlimit(100)` in a fixture failed (sqlparse's
    /// test_max_recursion, Scripts/real-pytest-suites.sh).
    func testATestRunsOnTheMainThreadAtTheDepthItHasUnderPytest() throws {
        let suite = try makeSuite("depth", ["conftest.py": "", "test_depth.py": """
            import sys
            import threading


            def test_runs_on_the_main_thread():
                # As under pytest: asyncio.get_event_loop() needs it.
                assert threading.current_thread() is threading.main_thread()


            def test_lowest_recursion_limit():
                old = sys.getrecursionlimit()
                lowest = None
                for limit in range(5, old):
                    try:
                        sys.setrecursionlimit(limit)
                    except RecursionError:
                        continue
                    lowest = limit
                    break
                sys.setrecursionlimit(old)
                print(f"lowest recursion limit: {lowest}")

            """])
        func lowest(_ result: Result) -> Int? {
            // pytest prints the test's line after the file's name ("test_depth.py lowest ...").
            guard let range = result.stdout.range(of: "lowest recursion limit: [0-9]+", options: .regularExpression) else {
                return nil
            }
            return Int(result.stdout[range].split(separator: " ").last!)
        }
        let expected = try pytest(["-s", suite], in: suite)
        let result = try pyloader([suite, "--", "-s"], in: suite)
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertEqual(summary(result), "2 passed", "\(result)")
        let underPytest = try XCTUnwrap(lowest(expected), "\(expected)")
        let underPyloader = try XCTUnwrap(lowest(result), "\(result)")
        // `python -m pytest` has runpy's two frames below pytest.main, the fresh loader the
        // worker's two: a few levels either way.
        XCTAssertLessThanOrEqual(abs(underPyloader - underPytest), 4, "pytest: \(underPytest), pyloader: \(underPyloader)")
    }

    // MARK: - Ctrl-C

    /// Ctrl-C during a test: pytest's "KeyboardInterrupt" report of what ran so far and its
    /// status 2, at once (the test is a busy loop: a Ctrl-C does not cut a child's blocking
    /// call short, README), with no test after it run.
    func testCtrlCEndsTheRunAsUnderPytest() throws {
        let suite = try makeSuite("slow", ["conftest.py": "", "test_zlater.py": "def test_later_module():\n    pass\n",
                                           "test_slow.py": """
            import time

            def test_quick():
                pass

            def test_busy():
                end = time.monotonic() + 60
                while time.monotonic() < end:
                    pass

            def test_after():
                pass

            """])
        let started = Date()
        let result = try pyloader([suite], in: suite, interruptAfter: 4)
        XCTAssertLessThan(Date().timeIntervalSince(started), 40, "the interrupt did not stop the busy test: \(result)")
        XCTAssertEqual(result.status, 2, "\(result)")
        XCTAssertTrue(result.stdout.contains("!!! KeyboardInterrupt !!!"), "\(result)")
        XCTAssertEqual(summary(result), "1 passed", "\(result)")
        XCTAssertFalse(result.stdout.contains("test_zlater.py"), "\(result)")
    }

    // MARK: - Running

    struct Result: CustomStringConvertible {
        let status: Int32
        let stdout: String
        let stderr: String
        var description: String { "status \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)---" }
    }

    /// `pyloader test --manifest M --in tests ARGUMENTS` with pytest's cache plugin off (it
    /// would write .pytest_cache into the fixtures).
    private func pyloader(_ arguments: [String], in directory: String, interruptAfter delay: Double? = nil) throws -> Result {
        var arguments = arguments
        if let terminator = arguments.firstIndex(of: "--") {
            arguments.insert(contentsOf: ["-p", "no:cacheprovider"], at: terminator + 1)
        } else {
            arguments += ["--", "-p", "no:cacheprovider"]
        }
        return try run(cliExecutable()!, ["test", "--manifest", manifest, "--in", "tests"] + arguments, in: directory,
                       interruptAfter: delay)
    }

    /// `python -m pytest -p no:cacheprovider ARGUMENTS` with the same pytest.
    private func pytest(_ arguments: [String], in directory: String) throws -> Result {
        try run(Self.python!, ["-m", "pytest", "-p", "no:cacheprovider"] + arguments, in: directory,
                environment: ["PYTHONPATH": Self.pytestFolder!])
    }

    /// Runs a program with a time limit (a hang fails the row), both sides with the same
    /// terminal width (pytest pads its lines to it) and no pytest settings from outside.
    private func run(_ executable: String, _ arguments: [String], in directory: String,
                     environment extra: [String: String] = [:], interruptAfter delay: Double? = nil,
                     timeout: Double = 240) throws -> Result {
        var environment = ["COLUMNS": "100", "PYTEST_ADDOPTS": "", "PYTEST_PLUGINS": ""]
        environment.merge(extra) { $1 }
        let outcome = try runProcess(executable, arguments, in: directory, environment: environment,
                                     interruptAfter: delay, timeout: timeout)
        return Result(status: outcome.status, stdout: outcome.stdout, stderr: outcome.stderr)
    }

    /// A folder `name` under this test's folder holding `files` (file name → text).
    private func makeSuite(_ name: String, _ files: [String: String]) throws -> String {
        let suite = folder + "/" + name
        try FileManager.default.createDirectory(atPath: suite, withIntermediateDirectories: true)
        for (file, text) in files {
            try text.write(toFile: suite + "/" + file, atomically: true, encoding: .utf8)
        }
        return suite
    }

    /// pytest's closing line without its time and padding: "1 failed, 2 passed".
    private func summary(_ result: Result) -> String {
        guard let last = result.stdout.split(separator: "\n").last(where: { $0.contains(" in ") }) else { return "" }
        var text = String(last)
        text = text.trimmingCharacters(in: CharacterSet(charactersIn: "= "))
        if let range = text.range(of: " in [0-9.]+s( \\([0-9:.]+\\))?$", options: .regularExpression) {
            text.removeSubrange(range)
        }
        return text
    }

    private func lines(_ result: Result, startingWith prefixes: [String]) -> [String] {
        result.stdout.split(separator: "\n").map(String.init).filter { line in prefixes.contains { line.hasPrefix($0) } }
    }
}
