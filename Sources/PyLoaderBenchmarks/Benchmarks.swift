@_spi(Measurement) import PyLoader
#if canImport(Glibc)
import Glibc
#endif

/// PyLoader's figures against CPython's own floor and the alternatives a user would pick,
/// measured side by side in one run (BENCHMARKS.md explains each figure). `pyloader bench`
/// is the entry point; this target keeps the measurements out of the command-line tool.
public enum Benchmarks {
    /// Why a run ended without a table.
    public enum Stop: Error {
        /// Ctrl-C between figures.
        case interrupted
        /// A probe was asked for that does not exist, or without a count.
        case badProbe(String)
    }

    /// Measures every figure (or those whose name contains `only`), prints the table to
    /// stdout (progress to stderr) and, with `jsonFile`, writes the figures there as JSON.
    public static func run(quick: Bool, only: String?, jsonFile: String?) throws {
        let plan = quick ? BenchPlan.quick : BenchPlan.full
        let folder = try BenchFiles.makeTemporaryDirectory(prefix: "pyloader-bench")
        defer { BenchFiles.removeTree(folder) }
        let context = BenchContext(plan: plan, folder: folder)
        try BenchFiles.makeDirectory(context.hostFolder)
        try BenchFiles.write("def ping(x):\n    return x\n", to: context.hostFolder + "/hostapi.py")
        var options = RuntimeOptions(rootPaths: [context.hostFolder])
        options.handlesSignals = true   // Ctrl-C stops the run (KeyboardInterrupt ends it)
        try Loader.configure(options)
        let root = try Loader.root
        let machine = try machine(root: root, mode: plan.name)
        #if DEBUG
        context.progress("warning: a debug build; the figures mean little (swift build -c release)")
        #endif
        if context.pythonOnLibpython == nil {
            context.progress("python-on-libpython is not built next to this executable (swift build -c release): "
                             + "the process peers on PyLoader's libpython are left out")
        }

        let started = monotonicNanoseconds()
        var rows: [BenchRow] = []
        let figures: [(String, (BenchContext) throws -> [BenchRow])] = [
            (ChildLifecycleBenchmark.figure, ChildLifecycleBenchmark.run),
            (MemoryBenchmark.figure, MemoryBenchmark.run),
            (ImportBenchmark.cachedFigure, ImportBenchmark.runCached),
            (ImportBenchmark.delegatedFigure, ImportBenchmark.runDelegated),
            (PluginStartupBenchmark.figure, PluginStartupBenchmark.run),
            (CallBenchmark.figure, CallBenchmark.run),
            (ActivationBenchmark.figure, ActivationBenchmark.run),
            (TestRunBenchmark.figure, TestRunBenchmark.run),
            (PytestRunBenchmark.figure, PytestRunBenchmark.run),
            (ChurnBenchmark.figure, ChurnBenchmark.run),
            (CloseAndClassBenchmark.figure, CloseAndClassBenchmark.run),
            (ParallelBenchmark.figure, ParallelBenchmark.run),
        ]
        // Ctrl-C stops the run between figures (a figure takes a few seconds); most of the
        // time is spent in Swift loops, which a KeyboardInterrupt would not reach.
        GracefulStop.defersFirstInterrupt = true
        for (name, measure) in figures where only.map(name.contains) ?? true {
            if GracefulStop.isRequested { throw Stop.interrupted }
            context.progress(name)
            rows += try measure(context)
        }
        let seconds = Double(monotonicNanoseconds() - started) / 1e9
        print(BenchReport.table(rows, machine: machine), terminator: "")
        print("Measured in \(significant(seconds)) s.")
        if let jsonFile {
            let json = BenchReport.json(rows, machine: machine, extra: [("seconds", jsonNumber(seconds))])
            try BenchFiles.write(json, to: jsonFile)
        }
    }

    /// Probe mode: one measurement in this fresh process (a figure that needs one runs the
    /// executable again with `--probe`); prints numbers, then exits at once (finalizing
    /// hundreds of interpreters would only add time).
    public static func runProbe(_ kind: String, count: Int) throws -> Never {
        guard count > 0 else { throw Stop.badProbe("--probe needs --count N") }
        try Loader.configure(RuntimeOptions())
        let output: String
        switch kind {
        case "memory": output = try MemoryBenchmark.probe(count: count, raw: false)
        case "raw-memory": output = try MemoryBenchmark.probe(count: count, raw: true)
        case "churn": output = try ChurnBenchmark.probe(count: count, raw: false)
        case "raw-churn": output = try ChurnBenchmark.probe(count: count, raw: true)
        case "call": output = try ActivationBenchmark.probe(count: count, current: false)
        case "call-current": output = try ActivationBenchmark.probe(count: count, current: true)
        default: throw Stop.badProbe("unknown probe '\(kind)'")
        }
        print(output)
        fflush(nil)   // every stream: `stdout` itself is a C global Swift 6 will not read
        _exit(0)
    }

    static func machine(root: Loader, mode: String) throws -> MachineInfo {
        let model = BenchFiles.firstLine(of: "/proc/cpuinfo", startingWith: "model name")
            .map { String($0.drop(while: { $0 != ":" }).dropFirst().drop(while: { $0 == " " })) } ?? "unknown CPU"
        let python = try String(python: try root.eval("__import__('sys').version.split()[0]"))
        #if DEBUG
        let build = "debug"
        #else
        let build = "release"
        #endif
        return MachineInfo(processors: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), cpuModel: model,
                           python: python, swift: swiftVersion, build: build, mode: mode)
    }

    /// The compiler this was built with (Swift has no run-time version string).
    static var swiftVersion: String {
        #if compiler(>=6.4)
        return "Swift 6.4 or later"
        #elseif compiler(>=6.3)
        return "Swift 6.3"
        #elseif compiler(>=6.2)
        return "Swift 6.2"
        #else
        return "Swift 6.1 or earlier"
        #endif
    }
}
