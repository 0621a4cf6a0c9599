import PyLoader

/// `pyloader test` with pytest: one pytest session whose tests run in fresh children of
/// `parent`, one per test module or per test (`pytest_controller.py` and `pytest_worker.py` hold the Python halves).
///
/// pytest is imported anew in every fresh loader, not shared from `parent` as unittest is:
/// pytest works on the interpreter it runs in — `sys.path`, `sys.modules`, `sys.meta_path`
/// (assertion rewriting), `sys.stdout` (capsys), the `warnings` filters (pytest.warns),
/// `logging` (caplog), `os.environ` (monkeypatch) — and a shared pytest would do all of that
/// to `parent`'s interpreter while the tests run in the child's (BENCHMARKS.md has the cost).
enum PytestSession {
    /// Runs pytest with `arguments` (as after `pytest` on a command line) and returns its
    /// exit status: 0 all passed, 1 failures, 2 interrupted, 3 internal error, 4 usage
    /// error, 5 no tests collected.
    ///
    /// - Throws: `UsageError` when pytest cannot be imported from `parent`.
    static func run(in parent: Loader, isolation: TestCommand.Isolation, arguments: [String]) throws -> Int32 {
        // The controller's loader takes pytest and the rootdir's conftest.py files (pytest
        // reads their options); no test module is imported there. Closed after the run.
        let controller = try parent.child(freshName("pytest-session"), paths: parent.paths, delegation: .childFirst)
        defer { try? controller.close() }
        guard try canImportPytest(from: controller) else {
            throw UsageError("""
                pytest is not importable from loader '\(parent.name)' (its paths: \
                \(parent.paths.isEmpty ? "none" : parent.paths.joined(separator: ", "))); install it into \
                a folder (pip install --target DIR pytest) and add DIR to that loader's paths in \
                pyloader.toml, or run the suite with --runner unittest
                """)
        }
        // Bytecode as in the fresh loaders (the worker sets it there): PyLoader's cache folder.
        let sys = try controller.importModule("sys")
        try sys.setAttribute("pycache_prefix", TestSession.bytecodeFolder)
        try sys.setAttribute("dont_write_bytecode", TestSession.bytecodeFolder == nil)
        let module = try RunnerPython.pytestController.makeModule(in: controller)
        let runs = try module.start(arguments, parent.name, isolation.rawValue, RunnerPython.pytestWorker.source,
                                    TestSession.bytecodeFolder)
        try serve(runs)
        if let error = try String?(python: runs.error) {
            throw PythonSessionFailure(text: error)
        }
        let status = Int32(try Int(python: runs.status))
        if try Bool(python: runs.interrupted) && (status == 0 || status == 1) {
            // A Ctrl-C after the session's last look (its summary was printed already).
            printError("pyloader test: interrupted")
            return 2
        }
        return status
    }

    /// Runs what the session's thread hands over (`MainThreadRuns` in pytest_controller.py)
    /// until the session ends, then waits for its thread. On the main thread and from outside
    /// every loader, so that a fresh loader's tests run on the thread `threading` calls the
    /// main one, at the recursion depth they have under `python -m pytest` (3.11 carries the
    /// depth across a crossing), and a Ctrl-C lands in them.
    ///
    /// - Throws: a `PythonError` (KeyboardInterrupt) for a second Ctrl-C before the session
    ///   took the first: the run ends there.
    private static func serve(_ runs: PythonObject) throws {
        while true {
            let request = try interruptible(runs) { try runs.next_request() }
            if request.isNone { break }
            var failure: String?, interrupted = false
            do {
                if try Bool(python: runs.interrupted) {
                    interrupted = true   // came after the session's last look: the unit does not run
                } else {
                    let name = try String(python: request[1])
                    guard let loader = Loader.named(name) else { throw LoaderError.closed(loader: name) }
                    try loader.exec(try String(python: request[2]))
                }
            } catch let error as PythonError where error.isInstance(of: "builtins.KeyboardInterrupt") {
                interrupted = true   // a Ctrl-C before the code's own handler took it
            } catch {
                failure = "\(error)"
            }
            _ = try interruptible(runs) { try runs.finish(request[0], failure, interrupted) }
        }
        _ = try interruptible(runs) { try runs.join() }
    }

    /// `body`, called again when a Ctrl-C raised inside it before its own handler could: the
    /// interrupt is kept for the session, as `MainThreadRuns` keeps it, unless one is kept
    /// already (a second Ctrl-C ends the run).
    private static func interruptible(_ runs: PythonObject, _ body: () throws -> PythonObject) throws -> PythonObject {
        while true {
            do {
                return try body()
            } catch let error as PythonError where error.isInstance(of: "builtins.KeyboardInterrupt") {
                if try Bool(python: runs.interrupted) { throw error }
                try runs.setAttribute("interrupted", true)
            }
        }
    }

    /// What escaped the pytest session's thread (pytest.main itself catches nearly everything).
    struct PythonSessionFailure: Error, CustomStringConvertible {
        let text: String
        var description: String { "the pytest session failed:\n\(text)" }
    }

    /// Whether `import pytest` would find pytest in `loader` (nothing is imported).
    static func canImportPytest(from loader: Loader) throws -> Bool {
        try Bool(python: loader.eval("__import__('importlib.util').util.find_spec('pytest') is not None"))
    }

    /// `prefix`, or `prefix-2`, `prefix-3`, ... when a live loader has that name.
    private static func freshName(_ prefix: String) -> String {
        var name = prefix, number = 1
        while Loader.named(name) != nil {
            number += 1
            name = "\(prefix)-\(number)"
        }
        return name
    }
}
