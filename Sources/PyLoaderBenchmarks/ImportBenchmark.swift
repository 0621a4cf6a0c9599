@_spi(Measurement) import PyLoader

/// The import hook's cost on a cached import, and the first import of a module
/// delegated to the parent, which already holds it.
enum ImportBenchmark {
    static let cachedFigure = "cached `import json` in a child"
    static let delegatedFigure = "first import of a delegated module already loaded in the parent"

    /// `import json` (already in `sys.modules`) in a child, with PyLoader's hook
    /// installed and with CPython's own `__import__` (the SPI switches the hook off),
    /// interleaved; each loop net of the empty loop measured alongside.
    static func runCached(_ context: BenchContext) throws -> [BenchRow] {
        let plan = context.plan
        let child = try Loader.root.child("bench-cached-import")
        defer { try? child.close() }
        try child.exec(benchLoopSource + "\nimport json\n")
        defer { try? child.setImportHookInstalled(true) }
        var hooked: [Double] = [], plain: [Double] = []
        for _ in 0..<2 {   // warm-up
            _ = try child.benchLoop("_bench_import_json", iterations: plan.loopIterations)
        }
        for run in 0..<plan.loopRuns {
            let empty = try child.benchLoop("_bench_empty", iterations: plan.loopIterations)
            for hook in run % 2 == 0 ? [true, false] : [false, true] {
                try child.setImportHookInstalled(hook)
                let perImport = try child.benchLoop("_bench_import_json", iterations: plan.loopIterations) - empty
                if hook { hooked.append(perImport) } else { plain.append(perImport) }
            }
            try child.setImportHookInstalled(true)
        }
        return [
            BenchRow(figure: cachedFigure, subject: "with PyLoader's import hook", value: SampleStats(hooked),
                     peer: "CPython's own __import__ (hook off, same child)", peerValue: SampleStats(plain),
                     goal: .ratioAtMost(1.10),
                     note: "per import, inside a Python loop of \(plan.loopIterations) timed with perf_counter_ns, "
                        + "net of an empty loop measured in the same run; \(plan.loopRuns) runs, hook on/off alternating."),
        ]
    }

    /// Per fresh child (parent-first, the root holding `hostapi`): the first
    /// `import hostapi`, timed inside the child; then a cached `import hostapi`; then
    /// the first import of a module that a do-nothing finder hands importlib at
    /// once, which is what any first import costs before anyone looks for a file.
    static func runDelegated(_ context: BenchContext) throws -> [BenchRow] {
        let plan = context.plan
        let root = try Loader.root
        _ = try root.importModule("hostapi")
        var first: [Double] = [], cached: [Double] = [], floor: [Double] = []
        // One warm-up child, not counted.
        for sample in -1..<plan.firstImportSamples {
            let child = try root.child("bench-delegated")
            defer { try? child.close() }
            try child.exec(benchLoopSource + "\n" + floorFinderSource)
            try child.exec("_t0 = _bench_clock()\nimport hostapi\n_bench_first = _bench_clock() - _t0\n")
            try child.exec("_t0 = _bench_clock()\nimport _bench_premade\n_bench_floor = _bench_clock() - _t0\n")
            let iterations = plan.loopIterations / 10
            let empty = try child.benchLoop("_bench_empty", iterations: iterations)
            let cachedImport = try child.benchLoop("_bench_import_hostapi", iterations: iterations) - empty
            guard sample >= 0 else { continue }
            first.append(Double(try Int(python: try child.eval("_bench_first"))) / 1e9)
            floor.append(Double(try Int(python: try child.eval("_bench_floor"))) / 1e9)
            cached.append(cachedImport)
            guard try child.eval("hostapi is __import__('pyloader').root().import_module('hostapi')").isTruthy() else {
                throw BenchProcess.Failure(description: "hostapi was not delegated to the root")
            }
        }
        let value = SampleStats(first)
        return [
            // The goal (the start-up issue): handing over a module the parent holds costs less than
            // importlib's cheapest way of finding one.
            BenchRow(figure: delegatedFigure, subject: "child `import hostapi`, first time in that child", value: value,
                     peer: "first import through importlib, do-nothing finder (CPython's floor)", peerValue: SampleStats(floor),
                     goal: .ratioAtMost(1.0),
                     note: "one first import per fresh parent-first child (\(plan.firstImportSamples) children), timed inside "
                        + "the child. CPython's floor: the first import of a module that a do-nothing finder, first on "
                        + "sys.meta_path, hands importlib at once (create_module returns a ready module, exec_module does nothing)."),
            BenchRow(figure: delegatedFigure, subject: "child `import hostapi`, first time in that child", value: value,
                     peer: "a cached `import hostapi` (same child)", peerValue: SampleStats(cached)),
        ]
    }

    /// A finder that hands importlib a ready module for one name: the cheapest first import there is.
    static let floorFinderSource = """
        import sys as _bench_sys, types as _bench_types
        from importlib.machinery import ModuleSpec as _BenchSpec

        class _BenchPremadeFinder:
            @staticmethod
            def find_spec(name, path=None, target=None):
                return _BenchSpec(name, _BenchPremadeFinder) if name == "_bench_premade" else None
            @staticmethod
            def create_module(spec):
                return _bench_types.ModuleType(spec.name)
            @staticmethod
            def exec_module(module):
                pass

        _bench_sys.meta_path.insert(0, _BenchPremadeFinder)
        """
}
