import CPython
@_spi(Measurement) import PyLoader

/// Swift → Python: a held `PythonObject` function called from Swift with the GIL not
/// held (each call takes the GIL, swaps to the loader's thread state and back, and
/// gives the GIL back; so does releasing the result's handle), vs the same call
/// inside an activation of that loader (GIL held, thread state already current).
///
/// Beside it, to tell PyLoader's share from CPython's: the same call with the GIL
/// held by another loader's activation (a swap, no GIL), in the root (the GIL, no
/// swap), and the raw C API's own ratio for taking the GIL around a call.
enum ActivationBenchmark {
    static let figure = "Swift → Python call with activation"

    static func run(_ context: BenchContext) throws -> [BenchRow] {
        let plan = context.plan
        let calls = plan.activationCalls
        let root = try Loader.root
        let child = try root.child("bench-activation")
        defer { try? child.close() }
        for loader in [child, root] { try loader.exec("def _bench_f():\n    return None\n") }
        let childFunction = try child.eval("_bench_f"), rootFunction = try root.eval("_bench_f")

        func loop(_ function: PythonObject) throws -> Double {
            try secondsTaken { for _ in 0..<calls { try function.call() } } / Double(calls)
        }
        // The same loop, the results kept and released afterwards inside an activation:
        // what the call costs without its result handle's release (which takes the GIL again).
        var kept: [PythonObject] = []
        kept.reserveCapacity(calls)
        func loopKeepingResults(_ function: PythonObject) throws -> Double {
            defer { _ = try? child.withActivatedForMeasurement { kept.removeAll(keepingCapacity: true) } }
            return try secondsTaken { for _ in 0..<calls { kept.append(try function.call()) } } / Double(calls)
        }
        // name → one measurement, seconds per call.
        let measurements: [(String, () throws -> Double)] = [
            ("child, GIL not held", { try loop(childFunction) }),
            ("child, GIL not held, results kept", { try loopKeepingResults(childFunction) }),
            ("child, current, results kept", {
                try child.withActivatedForMeasurement { try loopKeepingResults(childFunction) }
            }),
            ("child, current", { try child.withActivatedForMeasurement { try loop(childFunction) } }),
            ("child, from a root activation", { try root.withActivatedForMeasurement { try loop(childFunction) } }),
            ("root, GIL not held", { try loop(rootFunction) }),
            ("root, current", { try root.withActivatedForMeasurement { try loop(rootFunction) } }),
            ("raw, GIL taken around", { try rawCall(calls, takingGIL: true) }),
            ("raw, GIL held", { try rawCall(calls, takingGIL: false) }),
        ]
        for (_, measure) in measurements { _ = try measure() }   // warm-up
        var samples: [String: [Double]] = [:]
        for run in 0..<plan.activationRuns {
            for index in measurements.indices {
                let (name, measure) = measurements[(index + run) % measurements.count]
                samples[name, default: []].append(try measure())
            }
        }
        func stats(_ name: String) -> SampleStats { SampleStats(samples[name]!) }
        let subject = "f() from Swift, GIL not held, child loader"
        return [
            BenchRow(figure: figure, subject: subject, value: stats("child, GIL not held"),
                     peer: "the same call, thread state already current", peerValue: stats("child, current"),
                     goal: .ratioAtMost(1.15),
                     note: "per call of a held PythonObject (`try f.call()`, result discarded), \(calls) calls a run, "
                        + "\(plan.activationRuns) runs, the variants interleaved. \"Already current\" = the same loop inside "
                        + "the loader's activation (SPI withActivatedForMeasurement). The other rows split the cost: the call without "
                        + "its result's release (each released handle takes the GIL again), a swap alone "
                        + "(GIL held by a root activation), the GIL alone (the root: no swap), and the raw C API's own ratio for "
                        + "PyEval_RestoreThread + PyObject_CallNoArgs + PyEval_SaveThread vs the call with the GIL held."),
            BenchRow(figure: figure, subject: "the same, each result's handle released later",
                     value: stats("child, GIL not held, results kept"),
                     peer: "the same (results kept), thread state already current", peerValue: stats("child, current, results kept")),
            BenchRow(figure: figure, subject: "f() from Swift, GIL held in a root activation (swap only)",
                     value: stats("child, from a root activation"),
                     peer: "the same call, thread state already current", peerValue: stats("child, current")),
            BenchRow(figure: figure, subject: "f() from Swift, GIL not held, root (GIL only)", value: stats("root, GIL not held"),
                     peer: "the same call, thread state already current", peerValue: stats("root, current")),
            BenchRow(figure: figure, subject: "CPython alone: GIL taken + f() + GIL released", value: stats("raw, GIL taken around"),
                     peer: "CPython alone: f() with the GIL held", peerValue: stats("raw, GIL held")),
        ]
    }

    /// Probe mode (for profiling one side alone, e.g. under callgrind): `count` calls of a
    /// child's function from Swift, with the GIL not held or inside the child's activation.
    static func probe(count: Int, current: Bool) throws -> String {
        let child = try Loader.root.child("probe-calls")
        try child.exec("def _bench_f():\n    return None\n")
        let function = try child.eval("_bench_f")
        let seconds = try secondsTaken {
            if current {
                try child.withActivatedForMeasurement { for _ in 0..<count { try function.call() } }
            } else {
                for _ in 0..<count { try function.call() }
            }
        }
        return String(seconds / Double(count))
    }

    /// Seconds per raw `PyObject_CallNoArgs(f)` of the root's `_bench_f`, with the GIL
    /// taken and given back around each call (`PyEval_RestoreThread` / `PyEval_SaveThread`)
    /// or held throughout. Inside a root activation, whose thread state is the one
    /// restored, so PyLoader's own records stay true.
    static func rawCall(_ count: Int, takingGIL: Bool) throws -> Double {
        try Loader.withRootActivated {
            guard let main = PyImport_AddModule("__main__"), let function = PyObject_GetAttrString(main, "_bench_f") else {
                PyErr_Clear()
                throw BenchProcess.Failure(description: "_bench_f is missing in the root")
            }
            defer { Py_DecRef(function) }
            guard takingGIL else {
                return secondsTaken {
                    for _ in 0..<count { Py_DecRef(PyObject_CallNoArgs(function)) }
                } / Double(count)
            }
            let tstate = PyEval_SaveThread()
            defer { PyEval_RestoreThread(tstate) }
            return secondsTaken {
                for _ in 0..<count {
                    PyEval_RestoreThread(tstate)
                    Py_DecRef(PyObject_CallNoArgs(function))
                    PyEval_SaveThread()
                }
            } / Double(count)
        }
    }
}
