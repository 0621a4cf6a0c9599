#if canImport(Glibc)
import Glibc
#endif
import PyLoader

/// How many repetitions each figure gets: `--quick` (under two minutes in all) or full.
struct BenchPlan {
    let name: String
    /// Runs of the child create + close figure, and cycles of each side per run.
    let lifecycleRuns: Int
    let lifecycleCycles: Int
    /// Live-children counts, and the fresh probe processes for each.
    let memoryCounts: [(count: Int, runs: Int)]
    /// Runs of each in-Python timing loop, and iterations per loop.
    let loopRuns: Int
    let loopIterations: Int
    /// Fresh children, one first delegated import each.
    let firstImportSamples: Int
    /// Runs of each Swift → Python loop, and calls per run.
    let activationRuns: Int
    let activationCalls: Int
    /// Runs of each 50-module test session.
    let testRuns: Int
    let testModules: Int
    /// Create/close cycles in the churn probe.
    let churnCycles: Int

    static let quick = BenchPlan(
        name: "quick", lifecycleRuns: 7, lifecycleCycles: 10,
        memoryCounts: [(10, 3), (100, 3)], loopRuns: 9, loopIterations: 100_000,
        firstImportSamples: 15, activationRuns: 9, activationCalls: 100_000,
        testRuns: 3, testModules: 50, churnCycles: 1_000)

    static let full = BenchPlan(
        name: "full", lifecycleRuns: 15, lifecycleCycles: 20,
        memoryCounts: [(10, 7), (100, 5), (1000, 3)], loopRuns: 21, loopIterations: 200_000,
        firstImportSamples: 41, activationRuns: 21, activationCalls: 200_000,
        testRuns: 7, testModules: 50, churnCycles: 10_000)
}

/// What every figure needs: the plan, a scratch folder, the peers' programs.
final class BenchContext {
    let plan: BenchPlan
    /// A scratch folder under /tmp, removed at the end.
    let folder: String
    /// The Python that matches the embedded libpython (Debian's), for every peer process.
    /// The python3 of the linked libpython (3.11: /usr/bin/python3.11; 3.13: .python/3.13/bin).
    let python = RuntimeOptions().pythonExecutable
    /// This executable, for the probes and `pyloader test`.
    let executable = BenchFiles.currentExecutable()
    /// CPython's own main on the libpython PyLoader links (the `python-on-libpython` target,
    /// built next to this executable), if built: a process peer that runs the same CPython
    /// as the loaders. `python` may be another build (Debian's is 1.3–1.4x faster at Python
    /// code than its libpython3.11.so: BENCHMARKS.md).
    lazy var pythonOnLibpython: String? = {
        guard let slash = executable.lastIndex(of: "/") else { return nil }
        let candidate = String(executable[..<slash]) + "/python-on-libpython"
        return access(candidate, X_OK) == 0 ? candidate : nil
    }()
    /// `folder/host`: the root's path, holding `hostapi` for the delegation figures.
    var hostFolder: String { folder + "/host" }

    init(plan: BenchPlan, folder: String) {
        self.plan = plan
        self.folder = folder
    }

    /// One progress line on stderr (the table goes to stdout).
    func progress(_ message: String) {
        let line = "bench: \(message)\n"
        _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }

    /// Runs a fresh process of this executable in probe mode and returns the numbers it printed.
    func probe(_ kind: String, count: Int) throws -> [Double] {
        let output = try BenchProcess.output([executable, "bench", "--probe", kind, "--count", String(count)])
        let numbers = parseNumbers(output)
        guard !numbers.isEmpty else {
            throw BenchProcess.Failure(description: "probe \(kind) \(count) printed nothing")
        }
        return numbers
    }

    /// Runs `source` under /usr/bin/python3 -I -S and returns the numbers it printed.
    func pythonNumbers(_ source: String, _ arguments: [String] = []) throws -> [Double] {
        parseNumbers(try BenchProcess.output([python, "-I", "-S", "-c", source] + arguments))
    }
}

/// The helpers every timing loop in Python uses. Each loop times itself with
/// `perf_counter_ns` and returns nanoseconds, so the Swift entry that starts it is
/// not counted; `_bench_empty` is the loop's own cost, subtracted from the others.
let benchLoopSource = """
    from time import perf_counter_ns as _bench_clock

    def _bench_empty(n):
        t = _bench_clock()
        for _ in range(n):
            pass
        return _bench_clock() - t

    def _bench_import_json(n):
        t = _bench_clock()
        for _ in range(n):
            import json
        return _bench_clock() - t

    def _bench_import_hostapi(n):
        t = _bench_clock()
        for _ in range(n):
            import hostapi
        return _bench_clock() - t

    def _bench_call_ping(n):
        from hostapi import ping
        t = _bench_clock()
        for _ in range(n):
            ping(1)
        return _bench_clock() - t
    """

extension Loader {
    /// Calls one of the `_bench_*` loops in this loader's `__main__` and returns
    /// seconds per iteration.
    func benchLoop(_ function: String, iterations: Int) throws -> Double {
        Double(try Int(python: try eval("\(function)(\(iterations))"))) / 1e9 / Double(iterations)
    }
}
