import CPython
import CPyLoader
import Foundation
@_spi(Measurement) import PyLoader

/// Issue 15's figure: CPU-bound Python on two threads in two own-GIL loaders, against two
/// shared-GIL loaders, two processes (multiprocessing, a warm pool) and CPython's own PEP 734
/// interpreters (`test.support.interpreters`, 3.13) on two threads; and the create + close
/// of an own-GIL loader against the raw `Py_NewInterpreterFromConfig` floor.
enum ParallelBenchmark {
    static let figure = "parallel CPU-bound Python (2 threads)"

    /// About 0.15 s of pure-Python arithmetic on this machine.
    static let work = "def spin(n):\n    t = 0\n    for i in range(n):\n        t += i * i % 7\n    return t\n"
    static let iterations = 2_000_000

    static func run(_ context: BenchContext) throws -> [BenchRow] {
        let root = try Loader.root
        let runs = Swift.max(3, context.plan.lifecycleRuns / 2)
        guard GIL.isOwnAvailable else {
            return [BenchRow(figure: figure, subject: "own-GIL loaders", value: SampleStats([0]),
                             note: "not measured: this CPython has one GIL per process (own GILs need 3.12+)")]
        }
        try BenchFiles.write(work, to: context.hostFolder + "/benchspin.py")
        let own = try (0..<2).map { try root.child("bench-own-\($0)", gil: .own) }
        let shared = try (0..<2).map { try root.child("bench-shared-\($0)") }
        defer { for loader in own + shared { try? loader.close() } }
        for loader in own + shared { try loader.exec(work) }
        try root.exec("""
            import sys, threading, time
            sys.path.insert(0, \(literal(context.hostFolder)))
            import benchspin
            import multiprocessing
            _bench_pool = multiprocessing.get_context('spawn').Pool(2)
            _bench_pool.map(benchspin.spin, [10, 10])
            try:
                from test.support import interpreters as _bench_pep734
                _bench_interps = [_bench_pep734.create() for _ in range(2)]
                for _i in _bench_interps:
                    _i.exec(\(literal(work)))
            except ImportError:
                _bench_interps = None
            def _bench_pep734_run(n):
                def one(interp):
                    interp.exec(f"spin({n})")
                threads = [threading.Thread(target=one, args=(i,)) for i in _bench_interps]
                t0 = time.perf_counter()
                for t in threads: t.start()
                for t in threads: t.join()
                return time.perf_counter() - t0
            def _bench_pool_run(n):
                t0 = time.perf_counter()
                _bench_pool.map(benchspin.spin, [n, n])
                return time.perf_counter() - t0
            """)
        defer { try? root.exec("_bench_pool.terminate()\nif _bench_interps:\n    for _i in _bench_interps: _i.close()") }
        let call = "spin(\(iterations))"
        var ownTimes: [Double] = [], sharedTimes: [Double] = [], poolTimes: [Double] = [], pepTimes: [Double] = []
        var oneTimes: [Double] = []
        for _ in 0..<runs {
            ownTimes.append(try onTwoThreads(own, call))
            sharedTimes.append(try onTwoThreads(shared, call))
            oneTimes.append(try secondsTaken { _ = try own[0].eval(call) })
            poolTimes.append(try Double(python: try root.eval("_bench_pool_run(\(iterations))")))
            if try Bool(python: try root.eval("_bench_interps is not None")) {
                pepTimes.append(try Double(python: try root.eval("_bench_pep734_run(\(iterations))")))
            }
        }

        // Create + close of an own-GIL loader against the raw floor, interleaved.
        for _ in 0..<3 {
            try root.child("bench-own-life", gil: .own).close()
            try Loader.withRootActivated { try rawOwnGILMakeAndEnd() }
        }
        var ours: [Double] = [], raw: [Double] = []
        for run in 0..<context.plan.lifecycleRuns {
            var sums = [0.0, 0.0]
            for cycle in 0..<context.plan.lifecycleCycles {
                for step in 0..<2 {
                    let which = (step + cycle + run) % 2
                    sums[which] += try secondsTaken {
                        if which == 0 { try root.child("bench-own-life", gil: .own).close() }
                        else { try Loader.withRootActivated { try rawOwnGILMakeAndEnd() } }
                    }
                }
            }
            ours.append(sums[0] / Double(context.plan.lifecycleCycles))
            raw.append(sums[1] / Double(context.plan.lifecycleCycles))
        }

        let note = "spin(\(iterations)) on each of 2 threads, wall time until both end; \(runs) runs, interleaved"
        var rows = [
            BenchRow(figure: figure, subject: "2 own-GIL loaders", value: SampleStats(ownTimes),
                     peer: "2 shared-GIL loaders", peerValue: SampleStats(sharedTimes), goal: .fasterBy(1.8), note: note),
            BenchRow(figure: figure, subject: "2 own-GIL loaders", value: SampleStats(ownTimes),
                     peer: "2 processes (multiprocessing spawn pool, warm)", peerValue: SampleStats(poolTimes),
                     note: "Pool.map of the same two calls; start-up not counted"),
            BenchRow(figure: figure, subject: "1 own-GIL loader, 1 thread (the work of one)", value: SampleStats(oneTimes),
                     note: "the single-thread time: 2 threads at ideal parallelism take this long"),
        ]
        if !pepTimes.isEmpty {
            rows.append(BenchRow(figure: figure, subject: "2 own-GIL loaders", value: SampleStats(ownTimes),
                                 peer: "2 PEP 734 interpreters (test.support.interpreters) on 2 threads",
                                 peerValue: SampleStats(pepTimes), goal: .ratioAtMost(1.0),
                                 note: "Interpreter.exec of the same call"))
        }
        rows.append(BenchRow(figure: figure, subject: "own-GIL child create + close", value: SampleStats(ours),
                             peer: "raw Py_NewInterpreterFromConfig (own GIL) + Py_EndInterpreter", peerValue: SampleStats(raw),
                             goal: .ratioAtMost(1.15),
                             note: "\(context.plan.lifecycleCycles) cycles of each a run, interleaved, \(context.plan.lifecycleRuns) runs"))
        return rows
    }

    /// A Python string literal of `text`.
    private static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
            .replacingOccurrences(of: "\n", with: "\\n") + "'"
    }

    /// Wall time of `call` evaluated in each loader on a thread of its own.
    private static func onTwoThreads(_ loaders: [Loader], _ call: String) throws -> Double {
        let group = DispatchGroup()
        let errors = ErrorBox()
        let start = DispatchTime.now().uptimeNanoseconds
        for loader in loaders {
            group.enter()
            Thread {
                defer { group.leave() }
                do { _ = try loader.eval(call) } catch { errors.set(error) }
            }.start()
        }
        group.wait()
        if let error = errors.error { throw error }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// An own-GIL sub-interpreter made and ended behind PyLoader's back.
    /// PRECONDITION: inside `Loader.withRootActivated`.
    private static func rawOwnGILMakeAndEnd() throws {
        let previous = PyThreadState_Get()
        var error = [CChar](repeating: 0, count: 256)
        guard let tstate = pyl_NewInterpreter(1, &error, error.count) else {
            throw BenchFailure(String(nulTerminated: error))
        }
        Py_EndInterpreter(tstate)   // leaves no thread state current, its GIL gone
        PyEval_RestoreThread(previous)
    }

    struct BenchFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    final class ErrorBox: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var error: Error?
        func set(_ error: Error) { lock.lock(); self.error = error; lock.unlock() }
    }
}
