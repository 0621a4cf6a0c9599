import PyLoader

/// An isolated test run of 50 tiny unittest modules: `pyloader test --isolate module`
/// (one process, a fresh child per module) vs a fresh `python3 -I -S -m unittest`
/// process per module vs plain unittest in one process (no isolation).
enum TestRunBenchmark {
    static let figure = "isolated test run, 50 tiny test modules"

    static func run(_ context: BenchContext) throws -> [BenchRow] {
        // From the scratch folder: `pyloader test` would read a ./pyloader.toml.
        try BenchFiles.inDirectory(context.folder) { try measure(context) }
    }

    private static func measure(_ context: BenchContext) throws -> [BenchRow] {
        let plan = context.plan
        let tests = context.folder + "/tests"
        try BenchFiles.makeDirectory(tests)
        let names = (0..<plan.testModules).map { "test_" + String($0 + 1000).dropFirst() }
        for name in names {
            try BenchFiles.write(moduleSource, to: "\(tests)/\(name).py")
        }
        let ours = [context.executable, "test", "--isolate", "module", tests]
        let oneProcess = [context.python, "-I", "-S", "-m", "unittest", "discover", "-s", tests]
        func perModule(_ name: String) -> [String] { oneProcess + ["-p", name + ".py"] }
        // Warm-up; also compiles the modules once (__pycache__), which every side then reads.
        _ = try BenchProcess.timed(oneProcess)
        let subcommandWorks = (try? BenchProcess.timed(ours)) != nil
        if !subcommandWorks {
            context.progress("`pyloader test` is not available: measuring the same through the library")
        }
        var pyloader: [Double] = [], processes: [Double] = [], plain: [Double] = [], shared: [Double] = []
        for run in 0..<plan.testRuns {
            context.progress("test run \(run + 1)/\(plan.testRuns)")
            let measurements: [() throws -> Void] = [
                {
                    pyloader.append(subcommandWorks
                        ? try BenchProcess.timed(ours)
                        : try secondsTaken { try runThroughLibrary(names, folder: tests, sharingUnittest: false) })
                },
                {
                    processes.append(try secondsTaken {
                        for name in names { _ = try BenchProcess.timed(perModule(name)) }
                    })
                },
                { plain.append(try BenchProcess.timed(oneProcess)) },
                { shared.append(try secondsTaken { try runThroughLibrary(names, folder: tests, sharingUnittest: true) }) },
            ]
            for index in 0..<measurements.count { try measurements[(index + run) % measurements.count]() }
        }
        let subject = subcommandWorks
            ? "pyloader test --isolate module (a process)"
            : "a fresh child per module, through the library (in process)"
        let value = SampleStats(pyloader)
        return [
            BenchRow(figure: figure, subject: subject, value: value,
                     peer: "a python3 -I -S -m unittest process per module", peerValue: SampleStats(processes),
                     goal: .fasterBy(3),
                     note: "the whole run of \(plan.testModules) modules (2 tests each), \(plan.testRuns) runs; "
                        + (subcommandWorks ? "pyloader test is timed as a whole process, start-up included. "
                           : "`pyloader test` was not available in this build: measured through the library. ")
                        + "Per-module processes use `unittest discover -s DIR -p test_NNN.py` (-I keeps the folder off sys.path)."),
            BenchRow(figure: figure, subject: subject, value: value,
                     peer: "plain unittest, one process, no isolation", peerValue: SampleStats(plain)),
            BenchRow(figure: figure, subject: "proposed: a fresh child per module, unittest shared (library, in process)",
                     value: SampleStats(shared),
                     peer: "a python3 -I -S -m unittest process per module", peerValue: SampleStats(processes),
                     note: "the proposed row takes unittest and traceback from the root (`shared`), imported there once, and "
                        + "runs each module under pyloader.context(child) so that the framework's imports land in the child."),
        ]
    }

    /// The same two tests in every module; the file names differ.
    static let moduleSource = """
        import unittest


        class TinyCase(unittest.TestCase):
            def test_arithmetic(self):
                self.assertEqual(sum(range(10)), 45)

            def test_text(self):
                self.assertIn("loader", "class loader")

        """

    /// The equivalent of `pyloader test --isolate module` through the library: a fresh
    /// child-first child per module, with the test folder as its path, running unittest.
    ///
    /// With `sharingUnittest`, the child takes `unittest` and `traceback` from the root
    /// (imported there once) instead of importing its own, and runs the tests with
    /// itself as the thread's context loader, so that the shared framework's lookups by
    /// name (`mock.patch`) land in the child. The module is imported by the child's own
    /// importlib, as `pyloader test` does: the shared `loadTestsFromName` would import it
    /// with the root's `__import__` (a module's own imports stay in its loader).
    static func runThroughLibrary(_ names: [String], folder: String, sharingUnittest: Bool) throws {
        let root = try Loader.root
        if sharingUnittest { _ = try root.importModule("unittest") }
        for name in names {
            let child = try root.child("bench-test", paths: [folder], delegation: .childFirst,
                                       shared: sharingUnittest ? ["unittest", "traceback"] : [])
            defer { try? child.close() }
            try child.exec("""
                import importlib, pyloader, unittest
                with pyloader.context(pyloader.current()):
                    _suite = unittest.defaultTestLoader.loadTestsFromModule(importlib.import_module('\(name)'))
                    _result = unittest.TestResult()
                    _suite.run(_result)
                """)
            guard try child.eval("_result.wasSuccessful() and _result.testsRun == 2").isTruthy() else {
                throw BenchProcess.Failure(description: "\(name) failed in the library run")
            }
            if sharingUnittest {
                guard try child.eval("unittest is pyloader.root().import_module('unittest')").isTruthy() else {
                    throw BenchProcess.Failure(description: "unittest was not shared")
                }
            }
        }
    }
}
