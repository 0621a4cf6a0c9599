#if canImport(Glibc)
import Glibc
#endif
import PyLoader

/// An isolated pytest run of 50 tiny pytest modules (2 tests and a conftest fixture each):
/// `pyloader test --isolate module` against a `python3 -m pytest` process per module and
/// plain pytest in one process (the floor), and `--isolate test` against pytest-forked's
/// fork per test. pytest comes from `.test-deps/pytest` (`Scripts/install-test-deps`).
enum PytestRunBenchmark {
    static let figure = "isolated pytest run, 50 tiny test modules"

    static func run(_ context: BenchContext) throws -> [BenchRow] {
        guard let pytest = pytestFolder(near: context.executable) else {
            context.progress("pytest is not installed (Scripts/install-test-deps): the pytest figure is left out")
            return []
        }
        // From the scratch folder: `pyloader test` would read a ./pyloader.toml.
        return try BenchFiles.inDirectory(context.folder) { try measure(context, pytest: pytest) }
    }

    /// `.test-deps/pytest` in a folder above this executable (the repository's), if there.
    static func pytestFolder(near executable: String) -> String? {
        var folder = executable
        while let slash = folder.lastIndex(of: "/"), slash != folder.startIndex {
            folder = String(folder[..<slash])
            let candidate = folder + "/.test-deps/pytest"
            if access(candidate + "/pytest/__init__.py", R_OK) == 0 { return candidate }
        }
        return nil
    }

    private static func measure(_ context: BenchContext, pytest: String) throws -> [BenchRow] {
        let plan = context.plan
        let tests = context.folder + "/pytest-suite"
        try BenchFiles.makeDirectory(tests)
        try BenchFiles.write(conftestSource, to: tests + "/conftest.py")
        let names = (0..<plan.testModules).map { "test_" + String($0 + 1000).dropFirst() }
        for name in names {
            try BenchFiles.write(moduleSource, to: "\(tests)/\(name).py")
        }
        // Per test, a fifth of the modules: a fresh loader (or fork) per test is the slow side.
        let perTestFiles = names.prefix(max(1, names.count / 5)).map { "\(tests)/\($0).py" }
        let manifest = context.folder + "/pytest-manifest.toml"
        try BenchFiles.write("[loaders.tests]\npaths = [\"\(pytest)\"]\n", to: manifest)

        // The peers are python3 processes that find pytest through PYTHONPATH (-S: no site
        // folders); `pyloader test` reads the manifest, its runtime ignores the environment.
        setenv("PYTHONPATH", pytest, 1)
        defer { unsetenv("PYTHONPATH") }
        let quiet = ["-p", "no:cacheprovider", "-q"]
        let ours = [context.executable, "test", "--manifest", manifest, "--in", "tests", "--isolate", "module", tests,
                    "--"] + quiet
        let oursPerTest = [context.executable, "test", "--manifest", manifest, "--in", "tests", "--isolate", "test"]
            + perTestFiles + ["--"] + quiet
        let pythonPytest = [context.python, "-S", "-m", "pytest"] + quiet
        // The same processes on the loaders' libpython (nil: not built, the row is left out).
        let libpythonPytest = context.pythonOnLibpython.map { [$0, "-S", "-m", "pytest"] + quiet }
        let plain = pythonPytest + [tests]
        let forked = pythonPytest + ["--forked"] + perTestFiles
        // Warm-up: bytecode of pytest and of the tests (each side then reads it).
        _ = try BenchProcess.timed(plain)
        _ = try BenchProcess.timed(ours)

        var pyloader: [Double] = [], processes: [Double] = [], floor: [Double] = []
        var pyloaderPerTest: [Double] = [], forks: [Double] = [], libpythonProcesses: [Double] = []
        let runs = max(1, plan.testRuns - 1)
        for run in 0..<runs {
            context.progress("pytest run \(run + 1)/\(runs)")
            let measurements: [() throws -> Void] = [
                { pyloader.append(try BenchProcess.timed(ours)) },
                {
                    processes.append(try secondsTaken {
                        for name in names { _ = try BenchProcess.timed(pythonPytest + ["\(tests)/\(name).py"]) }
                    })
                },
                { floor.append(try BenchProcess.timed(plain)) },
                { pyloaderPerTest.append(try BenchProcess.timed(oursPerTest)) },
                { forks.append(try BenchProcess.timed(forked)) },
            ] + (libpythonPytest.map { command in
                [{
                    libpythonProcesses.append(try secondsTaken {
                        for name in names { _ = try BenchProcess.timed(command + ["\(tests)/\(name).py"]) }
                    })
                }]
            } ?? [])
            for index in 0..<measurements.count { try measurements[(index + run) % measurements.count]() }
        }
        let (bare, withPytest) = try childCosts(context, pytest: pytest)
        let subject = "pyloader test --isolate module (a process)"
        let value = SampleStats(pyloader)
        var rows = [
            BenchRow(figure: figure, subject: subject, value: value,
                     peer: "a python3 -m pytest process per module", peerValue: SampleStats(processes),
                     goal: .fasterBy(3),
                     note: "the whole run of \(plan.testModules) modules (2 tests and a conftest fixture each), \(runs) runs, "
                        + "each side a whole process, start-up included; pytest imported anew in every fresh loader (README)."),
        ]
        if !libpythonProcesses.isEmpty {
            rows.append(BenchRow(figure: figure, subject: subject, value: value,
                                 peer: "the same processes on PyLoader's libpython (python-on-libpython)",
                                 peerValue: SampleStats(libpythonProcesses),
                                 note: "the same CPython build on both sides: python3 may be a faster build than the "
                                    + "libpython every embedding program links (Debian's: BENCHMARKS.md)."))
        }
        return rows + [
            BenchRow(figure: figure, subject: subject, value: value,
                     peer: "plain pytest, one process, no isolation (the floor)", peerValue: SampleStats(floor),
                     goal: .ratioAtMost(2)),
            BenchRow(figure: figure, subject: "pyloader test --isolate test, \(perTestFiles.count) modules",
                     value: SampleStats(pyloaderPerTest),
                     peer: "pytest-forked (--forked: a fork per test), the same modules", peerValue: SampleStats(forks),
                     goal: .fasterBy(1)),
            BenchRow(figure: figure, subject: "a fresh child + import pytest + close (library)", value: withPytest,
                     peer: "a fresh child + close", peerValue: bare,
                     note: "what importing pytest adds to every fresh loader: the part a shared pytest would save "
                        + "(pytest cannot be shared: README)."),
        ]
    }

    /// Seconds per fresh child with and without `import pytest` in it, through the library.
    private static func childCosts(_ context: BenchContext, pytest: String) throws -> (SampleStats, SampleStats) {
        let root = try Loader.root
        var bare: [Double] = [], withPytest: [Double] = []
        for index in 0..<(context.plan.lifecycleRuns * 2) {
            let imports = index % 2 == 1
            let seconds = try secondsTaken {
                let child = try root.child("bench-pytest", paths: [pytest], delegation: .childFirst)
                defer { try? child.close() }
                if imports { try child.exec("import pytest") }
            }
            if imports { withPytest.append(seconds) } else { bare.append(seconds) }
        }
        return (SampleStats(bare), SampleStats(withPytest))
    }

    static let conftestSource = """
        import pytest


        @pytest.fixture
        def resource():
            return {"items": [1, 2, 3]}

        """

    /// The same two tests in every module; the file names differ.
    static let moduleSource = """
        def test_arithmetic(resource):
            assert sum(resource["items"]) == 6


        def test_text():
            assert "loader" in "class loader"

        """
}
