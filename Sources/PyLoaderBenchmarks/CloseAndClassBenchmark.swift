@_spi(Measurement) import PyLoader

/// What issue 10's leak scan costs `close()`, and what issue 11's class records cost a
/// class statement. Both against the same work without them, interleaved run by run.
enum CloseAndClassBenchmark {
    static let figure = "close() leak scan; class creation"

    static func run(_ context: BenchContext) throws -> [BenchRow] {
        let root = try Loader.root
        let plan = context.plan
        // A host with some substance for the scan to walk: 50 modules of 30 globals each
        // (ints, strings, functions, lists of ten items), imported in the root.
        for index in 0..<50 {
            var source = "import json\n"
            for name in 0..<10 {
                source += "value_\(name) = \(name)\ntext_\(name) = 'x' * \(name)\nitems_\(name) = list(range(10))\n"
            }
            source += "def helper(x):\n    return x\n"
            try BenchFiles.write(source, to: context.hostFolder + "/benchscan_\(index).py")
        }
        try root.exec("for _i in range(50):\n    __import__(f'benchscan_{_i}')")
        for _ in 0..<3 { try root.child("bench-close").close() }

        let cycles = plan.lifecycleCycles
        var scanned: [Double] = [], unscanned: [Double] = []
        for run in 0..<plan.lifecycleRuns {
            var sums = [0.0, 0.0]
            for cycle in 0..<cycles {
                for step in 0..<2 {
                    let which = (step + cycle + run) % 2
                    Loader.leakScanEnabled = which == 0
                    sums[which] += try secondsTaken { try root.child("bench-close").close() }
                }
            }
            Loader.leakScanEnabled = true
            scanned.append(sums[0] / Double(cycles))
            unscanned.append(sums[1] / Double(cycles))
        }

        // Class creation: a class statement in a child (its __build_class__ records the class)
        // against the same statement in a sub-interpreter made behind PyLoader's back.
        let child = try root.child("bench-classes")
        defer { try? child.close() }
        let statement = "class A:\\n    def f(self):\\n        pass"
        let timing = "min(__import__('timeit').repeat(\(pythonString(statement)), number=2000, repeat=3)) / 2000"
        // 3.13 renamed the module (_interpreters) and made create() isolated by default.
        try root.exec("""
            try:
                import _xxsubinterpreters as _bench_xi
                _bench_raw = _bench_xi.create()
            except ImportError:
                import _interpreters as _bench_xi
                _bench_raw = _bench_xi.create('legacy')
            """)
        var ours: [Double] = [], raw: [Double] = []
        for _ in 0..<plan.lifecycleRuns {
            ours.append(try Double(python: try child.eval(timing)))
            raw.append(try rawClassTiming(root, timing))
        }
        try root.exec("_bench_xi.destroy(_bench_raw)")
        return [
            BenchRow(figure: figure, subject: "child create + close() with the leak scan", value: SampleStats(scanned),
                     peer: "the same with the scan off", peerValue: SampleStats(unscanned), goal: .ratioAtMost(1.05),
                     note: "the root holds 50 modules of 31 globals (lists of 10) for the scan to walk; "
                        + "\(cycles) cycles of each a run, interleaved, \(plan.lifecycleRuns) runs"),
            BenchRow(figure: figure, subject: "class statement in a child (recorded)", value: SampleStats(ours),
                     peer: "the same in a raw sub-interpreter", peerValue: SampleStats(raw),
                     note: "per class, best of 3 x 2000 in each run; the raw sub-interpreter is made with "
                        + "_xxsubinterpreters.create() in the root, outside PyLoader"),
        ]
    }

    /// The timing expression run in the raw sub-interpreter; its result passed back through a file.
    private static func rawClassTiming(_ root: Loader, _ timing: String) throws -> Double {
        try root.exec("""
            import os, tempfile
            _bench_fd, _bench_path = tempfile.mkstemp()
            os.close(_bench_fd)
            _bench_timing = r"\(timing)"
            _bench_xi.run_string(_bench_raw, "open(" + repr(_bench_path) + ", 'w').write(repr(" + _bench_timing + "))")
            with open(_bench_path) as _f:
                _bench_t = float(_f.read())
            os.unlink(_bench_path)
            """)
        return try Double(python: try root.eval("_bench_t"))
    }

    /// A single-quoted Python literal of text that holds no quote or backslash of its own
    /// (the statement's line breaks are written `\\n`, which stay escapes).
    private static func pythonString(_ text: String) -> String {
        "'" + text + "'"
    }
}
