import ArgumentParser
import Logging
import PyLoader
#if canImport(Glibc)
import Glibc
#endif

/// `pyloader test`: unittest or pytest suites, each module or test in a fresh child loader.
struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run unittest or pytest tests, each test module or test in a fresh child of --in.",
        discussion: """
            The runner is pytest when the suite looks like a pytest suite (a conftest.py, a \
            pytest.ini, [tool.pytest.ini_options] in pyproject.toml, [tool:pytest] in setup.cfg, \
            [pytest] in tox.ini, or test functions outside classes) and pytest is importable from \
            --in; else unittest. --runner chooses. Arguments after -- go to pytest unchanged.

            unittest: discovers test*.py under each PATH. Each fresh loader has PATH and --in's own \
            paths as its own paths and looks there first (child-first), so test modules, their \
            helpers and the code under test load fresh every time; unittest, traceback and logging \
            come from --in. The last line is "N passed, N failed" (", N skipped" when any). Exit \
            status 0 only when nothing failed; a test module that cannot be imported counts as failed.

            pytest: PATHs are pytest's (none: its testpaths or the current folder). Each fresh \
            loader imports pytest, the conftest.py files, the tests and the code under test anew \
            from --in's paths; one report, pytest's, with pytest's exit status (0, 1 failures, 2 \
            interrupted, 4 usage error, 5 no tests). Session-scoped fixtures are set up once per \
            fresh loader.
            """
    )

    enum Isolation: String, ExpressibleByArgument, CaseIterable {
        case module, test
    }

    enum Runner: String, ExpressibleByArgument, CaseIterable {
        case auto, pytest, unittest
    }

    @OptionGroup var tree: TreeOptions

    @Option(name: .customLong("in"), help: "The loader whose fresh children run the tests.")
    var loaderName = "root"

    @Option(help: "A fresh loader per test module (module) or per test (test).")
    var isolate: Isolation = .module

    @Option(help: "The test runner: pytest, unittest, or auto (pytest for a pytest suite).")
    var runner: Runner = .auto

    @Argument(help: """
        Folders or test files (unittest: discovers test*.py in each, as `python -m unittest \
        discover -s PATH`); after --, arguments for pytest (-k, -m, -x, -q, -v, --junitxml FILE, ...).
        """)
    var arguments: [String] = []

    /// The arguments before `--`.
    var paths: [String] { Array(arguments.dropLast(pytestArguments.count)) }

    /// The arguments after the first `--` (ArgumentParser appends them to `arguments`, in order).
    var pytestArguments: [String] {
        guard let terminator = CommandLine.arguments.firstIndex(of: "--") else { return [] }
        let tail = CommandLine.arguments[(terminator + 1)...]
        return arguments.count >= tail.count && arguments.suffix(tail.count).elementsEqual(tail) ? Array(tail) : []
    }

    func run() throws {
        for path in paths where TestDiscovery.fileKind(absolutePath(path)) == .missing && runner != .pytest {
            // pytest reports a missing path itself (its usage error, status 4).
            throw UsageError("\(path): no such folder or file")
        }
        let wantsPytest: Bool
        switch runner {
        case .auto: wantsPytest = PytestDetection.looksLikePytest(paths.isEmpty ? [currentDirectory()] : paths.map(absolutePath))
        case .pytest: wantsPytest = true
        case .unittest: wantsPytest = false
        }
        guard wantsPytest else { return try runUnittest() }
        // The report lists leaks in its own section; the log line would repeat it.
        if !ImportTrace.isEnabled { ImportTrace.logger.logLevel = .error }
        let parent = try tree.makeTree(writeBytecode: false).loader(named: loaderName)
        if runner == .auto, try !PytestSession.canImportPytest(from: parent) {
            // A pytest-looking suite without pytest: unittest runs its TestCase classes.
            printError("pyloader test: the suite looks like a pytest suite, but pytest is not importable from "
                       + "loader '\(parent.name)'; running it with unittest (--runner pytest insists on pytest)")
            return try runUnittest(in: parent)
        }
        let status = try PytestSession.run(in: parent, isolation: isolate, arguments: paths + pytestArguments)
        if status != 0 { throw ExitCode(status) }
    }

    /// - Parameter madeParent: `--in`, when the tree is made already.
    private func runUnittest(in madeParent: Loader? = nil) throws {
        guard !paths.isEmpty else { throw UsageError("the unittest runner needs at least one PATH") }
        guard pytestArguments.isEmpty else {
            throw UsageError("arguments after -- are for pytest; the unittest runner takes none")
        }
        // Check the paths before starting anything: a typo is a usage error.
        let plans = try paths.map(TestDiscovery.plan)
        // The report lists leaks under their test module; the log line would repeat it.
        if !ImportTrace.isEnabled { ImportTrace.logger.logLevel = .error }
        let parent = try madeParent ?? tree.makeTree(writeBytecode: false).loader(named: loaderName)
        let session = TestSession(parent: parent, isolation: isolate, showsProgress: isatty(STDOUT_FILENO) != 0)
        // The first Ctrl-C stops the run after the current test; a second one at once.
        GracefulStop.defersFirstInterrupt = true
        run: for plan in plans {
            for module in plan.modules {
                session.run(module, top: plan.top)
                if session.interrupted { break run }
            }
        }
        GracefulStop.defersFirstInterrupt = false
        session.printReport()
        if session.interrupted {
            // As unittest without --catch: the process ends through SIGINT (status 130).
            PyloaderCommand.endsBySIGINT = true
            throw ExitCode(130)
        }
        if session.failedCount > 0 { throw ExitCode(1) }
    }
}

// MARK: - Discovery

/// The test modules under one PATH, as `unittest discover` would find them.
struct TestPlan {
    /// The discovery's top-level folder: every test loader's own path.
    let top: String
    /// Dotted module names relative to `top`, in discovery order.
    let modules: [String]
}

/// Finds test modules without importing anything: files `test*.py` whose name is a
/// module name, in sorted order, recursing into packages (folders with `__init__.py`),
/// as `unittest`'s discovery does. Unlike it, a package's `load_tests` is not consulted
/// for the package as a whole (that would mean importing it outside a fresh loader);
/// each test module's own `load_tests` is honoured when the module is loaded.
enum TestDiscovery {
    static func plan(for path: String) throws -> TestPlan {
        let absolute = absolutePath(path)
        switch fileKind(absolute) {
        case .folder:
            return TestPlan(top: absolute, modules: modules(in: absolute, package: ""))
        case .file where isTestFile(lastComponent(absolute)):
            let top = String(absolute[..<absolute.lastIndex(of: "/")!])
            return TestPlan(top: top.isEmpty ? "/" : top, modules: [String(lastComponent(absolute).dropLast(3))])
        case .file:
            throw UsageError("\(path): not a test file (test*.py) nor a folder")
        case .missing:
            throw UsageError("\(path): no such folder or file")
        }
    }

    private static func modules(in folder: String, package prefix: String) -> [String] {
        var found: [String] = []
        for name in entries(of: folder) {
            let path = folder + "/" + name
            switch fileKind(path) {
            case .file where isTestFile(name):
                found.append(prefix + String(name.dropLast(3)))
            case .folder where isModuleName(name) && fileKind(path + "/__init__.py") == .file:
                found += modules(in: path, package: prefix + name + ".")
            default:
                break
            }
        }
        return found
    }

    /// `test*.py` with a stem that can be imported.
    static func isTestFile(_ name: String) -> Bool {
        name.hasPrefix("test") && name.hasSuffix(".py") && isModuleName(String(name.dropLast(3)))
    }

    /// `[_A-Za-z]\w*`, what `unittest` accepts as a module file name.
    static func isModuleName(_ name: String) -> Bool {
        guard let first = name.first, first == "_" || first.isLetter else { return false }
        return name.allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber }
    }

    enum FileKind { case file, folder, missing }

    static func fileKind(_ path: String) -> FileKind {
        var info = stat()
        guard stat(path, &info) == 0 else { return .missing }
        return (info.st_mode & S_IFMT) == S_IFDIR ? .folder : .file
    }

    /// The names in a folder, sorted, without `.` and `..`.
    static func entries(of folder: String) -> [String] {
        guard let directory = opendir(folder) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            // In place: copying `entry.pointee` reads past readdir's packed buffer.
            let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
            let name = String(cString: (UnsafeRawPointer(entry) + offset).assumingMemoryBound(to: CChar.self))
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func lastComponent(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}

// MARK: - Running

/// One outcome of one test, as the runner in the test loader reported it.
struct TestRecord {
    enum Outcome: String {
        case passed, failed, error, skipped
        case expectedFailure = "expected failure"
        case unexpectedSuccess = "unexpected success"
    }

    let id: String
    let outcome: Outcome
    /// `str(test)`, as unittest prints it: `test_x (module.Class.test_x)`.
    let title: String
    /// The traceback, or the reason for a skip.
    let detail: String

    /// An expected failure is a pass and an unexpected success a failure, as
    /// `unittest.TestResult.wasSuccessful()` counts them.
    var isFailure: Bool { [.failed, .error, .unexpectedSuccess].contains(outcome) }
    var isPass: Bool { outcome == .passed || outcome == .expectedFailure }

    init(id: String, outcome: Outcome, title: String, detail: String) {
        self.id = id
        self.outcome = outcome
        self.title = title
        self.detail = detail
    }

    /// From the runner's `[id, outcome, description, detail]`.
    init(_ fields: [String]) {
        let field = { (index: Int) in index < fields.count ? fields[index] : "" }
        self.init(id: field(0), outcome: Outcome(rawValue: field(1)) ?? .error, title: field(2), detail: field(3))
    }
}

/// Runs test modules, each module or test in a fresh child of `parent`, and keeps the outcomes.
final class TestSession {
    let parent: Loader
    let isolation: TestCommand.Isolation
    let showsProgress: Bool
    private(set) var records: [TestRecord] = []
    /// Set by a Ctrl-C (KeyboardInterrupt) during a test: the run stops there.
    private(set) var interrupted = false
    /// Fresh loaders that could not close because threads their tests started kept running.
    private(set) var leftOpen: [(module: String, reason: String)] = []
    /// References that outlived a fresh loader (`LoaderLeak`), by the test module that made it.
    private(set) var leaks: [(module: String, leak: LoaderLeak)] = []
    private var loadersMade = 0
    private var modulesRun = 0

    init(parent: Loader, isolation: TestCommand.Isolation, showsProgress: Bool) {
        self.parent = parent
        self.isolation = isolation
        self.showsProgress = showsProgress
    }

    var failedCount: Int { records.filter(\.isFailure).count }

    /// Runs one test module; never throws: whatever goes wrong becomes an error outcome.
    func run(_ module: String, top: String) {
        var outcomes: [TestRecord] = []
        let leaksBefore = leaks.count
        switch isolation {
        case .module:
            outcomes = inFreshLoader(module: module, top: top) { runner in
                try [[String]](python: try runner.run_tests(module))
            }
        case .test:
            // A first fresh loader only lists the tests; each then runs in its own.
            var ids: [String] = []
            outcomes = inFreshLoader(module: module, top: top) { runner in
                let listing = try runner.list_tests(module)
                ids = try [String](python: try listing[0])
                return try [[String]](python: try listing[1])
            }
            for index in ids.indices where !interrupted {   // empty when the module could not be imported
                if GracefulStop.isRequested { interrupted = true; break }
                outcomes += inFreshLoader(module: module, top: top) { runner in
                    try [[String]](python: try runner.run_tests(module, index))
                }
            }
        }
        records += outcomes
        modulesRun += 1
        if GracefulStop.isRequested { interrupted = true }
        if showsProgress {
            writeOutput("\(module): \(TestSession.summary(outcomes))")
            for (_, leak) in leaks[leaksBefore...] {
                writeOutput("  leak: \(leak)")
            }
        }
    }

    /// Makes a fresh child of `parent` with `top` as its own path, installs the runner in
    /// it, calls `body`, and closes the child. Failures to do so are error outcomes.
    private func inFreshLoader(module: String, top: String,
                               _ body: (PythonObject) throws -> [[String]]) -> [TestRecord] {
        let loader: Loader
        do {
            // Child-first over the test folder and `parent`'s own paths: the tests, their
            // helpers and the code under test are all the child's own. Had the code under test
            // come from `parent`, it would use `parent`'s standard library while the tests use
            // the child's: `random.seed` in a test would not reach it, an ABC of the child's
            // `collections.abc` would not know its classes, a codec it registers would be
            // registered in `parent` only (real suites failed so: Scripts/real-unittest-suites.sh).
            // What `parent` takes from its own parents is still delegated.
            // `unittest` itself is shared: importing it anew costs more than making the
            // child (BENCHMARKS.md). A test that changes unittest itself is not isolated.
            loader = try parent.child(freshName(), paths: [top] + parent.paths, delegation: .childFirst,
                                      shared: TestSession.sharedModules)
            loadersMade += 1
        } catch {
            return [problem(module, "could not make a fresh loader", error)]
        }
        var outcomes: [TestRecord] = []
        do {
            let runner = try installRunner(in: loader)
            // The fresh child is the context loader while its tests run, so that the
            // shared unittest's own imports (mock.patch('json.dumps') resolving its
            // target, for one) reach the child's modules, not the parent's.
            outcomes = try loader.withContext { try body(runner) }.map(TestRecord.init)
        } catch {
            if (error as? PythonError)?.typeName == "KeyboardInterrupt" {
                // Ctrl-C: the test that was running is cut short; no more are started.
                interrupted = true
                outcomes.append(problem(module, "interrupted (Ctrl-C)", error))
            } else {
                outcomes.append(problem(module, "the test runner failed", error))
            }
        }
        do {
            leaks += try closeWaitingForThreads(loader).map { (module, $0) }
        } catch LoaderError.busy(_, let reason) {
            // Threads the tests left running (a pool never shut down): as python3 would at
            // exit, the run goes on; the loader stays open until the process ends.
            leftOpen.append((module, "loader '\(loader.name)' stays open: \(reason)"))
        } catch {
            outcomes.append(problem(module, "its fresh loader could not be closed", error))
        }
        return outcomes
    }

    /// How long a fresh loader's close waits for threads its tests left running, daemon
    /// threads included (pools and executors that shut down in the background).
    static let threadGrace = 5.0

    /// `close()`, retried while it is refused because of threads the tests started: a
    /// library's daemon threads (multiprocessing's pool workers' handlers, pebble's pool
    /// managers) usually end shortly after the test that used them, and a test loader must
    /// not stay open for them. `Loader.close()` itself never waits for daemon threads.
    private func closeWaitingForThreads(_ loader: Loader) throws -> [LoaderLeak] {
        var waited = 0.0
        while true {
            do {
                return try loader.closeReportingLeaks()
            } catch LoaderError.busy where waited < TestSession.threadGrace {
                usleep(50_000)
                waited += 0.05
            }
        }
    }

    /// Top-level modules every fresh test loader takes from its parent. `logging` goes with
    /// `unittest`, whose `assertLogs` watches the `logging` it imports: the code under test
    /// must log to that one. A test that reconfigures logging is therefore not isolated.
    static let sharedModules = ["unittest", "traceback", "logging"]

    /// The runner module, made from `unittest_runner.py` inside `loader`.
    private func installRunner(in loader: Loader) throws -> PythonObject {
        let module = try RunnerPython.unittestRunner.makeModule(in: loader)
        try module.set_bytecode_folder(TestSession.bytecodeFolder)
        return module
    }

    /// Where test loaders write bytecode (`sys.pycache_prefix`): `$XDG_CACHE_HOME/pyloader/pycache`,
    /// else `~/.cache/pyloader/pycache`; nil (no bytecode written) without either. A folder
    /// of the user's own, not a shared temporary one, where another user could plant files.
    static let bytecodeFolder: String? = {
        if let cache = getenv("XDG_CACHE_HOME").map({ String(cString: $0) }), cache.hasPrefix("/") {
            return cache + "/pyloader/pycache"
        }
        if let home = getenv("HOME").map({ String(cString: $0) }), home.hasPrefix("/") {
            return home + "/.cache/pyloader/pycache"
        }
        return nil
    }()

    /// A loader name no live loader has: `test-1`, `test-2`, ...
    private func freshName() -> String {
        var number = loadersMade + 1
        while Loader.named("test-\(number)") != nil { number += 1 }
        return "test-\(number)"
    }

    private func problem(_ module: String, _ what: String, _ error: Error) -> TestRecord {
        let detail = (error as? PythonError)?.traceback ?? "\(error)\n"
        return TestRecord(id: module, outcome: .error, title: "\(module) (\(what))", detail: detail)
    }

    /// The failures with their tracebacks, as unittest prints them, then the summary line.
    func printReport() {
        let heavy = String(repeating: "=", count: 70), light = String(repeating: "-", count: 70)
        for record in records where record.isFailure {
            let heading: String
            switch record.outcome {
            case .failed: heading = "FAIL"
            case .unexpectedSuccess: heading = "UNEXPECTED SUCCESS"
            default: heading = "ERROR"
            }
            writeOutput(heavy)
            writeOutput("\(heading): \(record.title)")
            writeOutput(light)
            if !record.detail.isEmpty {
                writeOutput(record.detail, terminator: record.detail.hasSuffix("\n") ? "" : "\n")
            }
        }
        if records.contains(where: \.isFailure) { writeOutput("") }
        if !leftOpen.isEmpty {
            writeOutput("Test loaders left open because threads their tests started were still running"
                  + " after \(Int(TestSession.threadGrace)) s (they end with the process):")
            for (module, reason) in leftOpen { writeOutput("  \(module): \(reason)") }
            writeOutput("")
        }
        if !leaks.isEmpty {
            // As Tomcat reports a web application that leaves references behind: each one
            // keeps an object of a closed loader alive in a loader that stays open.
            writeOutput("References that outlived their test loader (the objects stay alive, their functions no longer work):")
            for (module, leak) in leaks { writeOutput("  \(module): \(leak)") }
            writeOutput("")
        }
        if interrupted {
            writeOutput("Interrupted (Ctrl-C): the run stopped early; the counts below cover what ran.")
        }
        let unit = isolation == .module ? "module" : "test"
        writeOutput("Ran \(plural(records.count, "test")) from \(plural(modulesRun, "module")),"
              + " each \(unit) in a fresh loader (\(plural(loadersMade, "loader")) made, "
              + (leftOpen.isEmpty ? "all closed)." : "\(leftOpen.count) left open)."))
        writeOutput(TestSession.summary(records))
    }

    private func plural(_ count: Int, _ noun: String) -> String {
        "\(count) \(noun)" + (count == 1 ? "" : "s")
    }

    /// `N passed, N failed` and `, N skipped` when any.
    static func summary(_ records: [TestRecord]) -> String {
        let skipped = records.filter { $0.outcome == .skipped }.count
        return "\(records.filter(\.isPass).count) passed, \(records.filter(\.isFailure).count) failed"
            + (skipped > 0 ? ", \(skipped) skipped" : "")
    }
}
