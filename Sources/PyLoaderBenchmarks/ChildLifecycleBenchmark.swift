import CPython
@_spi(Measurement) import PyLoader

/// Sub-interpreters made and ended with the raw C API, behind PyLoader's back: the
/// floor a child's creation is measured against. They get CPython's configuration
/// as PyLoader started it (no `site`), and nothing else (no paths, hook or finder).
///
/// PRECONDITION for all: inside `Loader.withRootActivated` (the GIL held, the
/// root's thread state current); each call swaps back to that thread state.
enum RawInterpreters {
    struct Failure: Error, CustomStringConvertible {
        var description: String { "Py_NewInterpreter failed" }
    }

    /// `Py_NewInterpreter` + `Py_EndInterpreter`.
    static func makeAndEnd() throws {
        try end(make())
    }

    /// A new sub-interpreter's thread state; the previous thread state is current again.
    static func make() throws -> UnsafeMutablePointer<PyThreadState> {
        let previous = PyThreadState_Get()
        guard let tstate = Py_NewInterpreter() else {
            PyThreadState_Swap(previous)
            PyErr_Clear()
            throw Failure()
        }
        // Py_NewInterpreter returns with the new thread state current.
        PyThreadState_Swap(previous)
        return tstate
    }

    /// Ends a sub-interpreter made by `make()` (its only thread state current while it ends).
    static func end(_ tstate: UnsafeMutablePointer<PyThreadState>) {
        let previous = PyThreadState_Get()
        PyThreadState_Swap(tstate)
        Py_EndInterpreter(tstate)   // leaves no thread state current
        PyThreadState_Swap(previous)
    }
}

/// Child create + close vs the raw `Py_NewInterpreter` + `Py_EndInterpreter` floor and
/// vs a `python3 -I -S -c pass` process. The three are interleaved run by run, so
/// that drift on a shared machine hits them alike.
enum ChildLifecycleBenchmark {
    static let figure = "child create + close (no paths)"

    static func run(_ context: BenchContext) throws -> [BenchRow] {
        let root = try Loader.root
        let plan = context.plan
        let passCommand = [context.python, "-I", "-S", "-c", "pass"]
        let libpythonCommand = context.pythonOnLibpython.map { [$0, "-I", "-S", "-c", "pass"] }
        // Warm-up: one-time costs (the pyloader module compiled once per process,
        // page faults in fresh heap) are not part of a child's cost.
        for _ in 0..<3 {
            try root.child("bench-lifecycle").close()
            try Loader.withRootActivated { try RawInterpreters.makeAndEnd() }
            _ = try BenchProcess.timed(passCommand)
        }
        // One cycle of each, in turn (the order rotating), so that a burst of load on a
        // shared machine hits all three alike; a run's figure is its mean cycle.
        let cycles = plan.lifecycleCycles
        let means = try interleavedRuns(plan.lifecycleRuns, cycles: cycles, [
            { try secondsTaken { try root.child("bench-lifecycle").close() } },
            { try secondsTaken { try Loader.withRootActivated { try RawInterpreters.makeAndEnd() } } },
            { try secondsTaken { _ = try BenchProcess.timed(passCommand) } },
        ] + (libpythonCommand.map { command in [{ try secondsTaken { _ = try BenchProcess.timed(command) } }] } ?? []))
        let (ours, floor, process) = (means[0], means[1], means[2])
        let value = SampleStats(ours)
        var rows = [BenchRow]()
        if means.count > 3 {
            rows.append(BenchRow(figure: figure, subject: "root.child(name) + close()", value: value,
                                 peer: "the same process on PyLoader's libpython (python-on-libpython)",
                                 peerValue: SampleStats(means[3])))
        }
        return [
            BenchRow(figure: figure, subject: "root.child(name) + close()", value: value,
                     peer: "raw Py_NewInterpreter + Py_EndInterpreter (floor)", peerValue: SampleStats(floor),
                     goal: .ratioAtMost(1.15),
                     note: "per cycle; \(cycles) cycles of each a run, interleaved, \(plan.lifecycleRuns) runs. The floor runs "
                        + "with PyLoader's CPython configuration (isolated, no site) inside a root activation. The floor itself "
                        + "is \(significant(SampleStats(process).median / SampleStats(floor).median))x faster than the process."),
            BenchRow(figure: figure, subject: "root.child(name) + close()", value: value,
                     peer: "python3 -I -S -c pass (a process)", peerValue: SampleStats(process),
                     goal: .fasterBy(3)),
        ] + rows
    }
}
