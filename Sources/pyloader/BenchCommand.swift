import ArgumentParser
@_spi(Measurement) import PyLoader
#if canImport(Glibc)
import Glibc
#endif

/// `pyloader bench`: PyLoader's figures against CPython's own floor and the
/// alternatives a user would pick, measured side by side in one run (the issue on
/// performance; BENCHMARKS.md explains each figure).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure PyLoader against CPython's floor and the alternatives (a release build: swift run -c release pyloader bench).",
        discussion: "One table: for each figure the median of repeated runs, the interquartile range, the peer "
            + "measured in the same run, the ratio, and the goal met or not (BENCHMARKS.md explains each figure). "
            + "Progress goes to stderr. Exit status 0 when the run completes, whether or not every goal is met."
    )

    @Flag(help: "Fewer repetitions, 1,000 churn cycles and 10/100 children alive (under two minutes).")
    var quick = false

    @Option(name: .customLong("json"), help: ArgumentHelp("Also write the figures as JSON to FILE.", valueName: "FILE"))
    var jsonFile: String?

    @Option(help: ArgumentHelp("Measure only the figures whose name contains TEXT (say \"pytest\").", valueName: "TEXT"))
    var only: String?

    // Internal: a measurement that needs a fresh process runs this executable again.
    @Option(help: ArgumentHelp(visibility: .private))
    var probe: String?

    @Option(help: ArgumentHelp(visibility: .private))
    var count = 0

    func run() throws {
        if let probe {
            try BenchCommand.runProbe(probe, count: count)
            return
        }
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
        let machine = try BenchCommand.machine(root: root, mode: plan.name)
        #if DEBUG
        context.progress("warning: a debug build; the figures mean little (swift run -c release pyloader bench)")
        #endif

        let started = monotonicNanoseconds()
        var rows: [BenchRow] = []
        let figures: [(String, (BenchContext) throws -> [BenchRow])] = [
            (ChildLifecycleBenchmark.figure, ChildLifecycleBenchmark.run),
            (MemoryBenchmark.figure, MemoryBenchmark.run),
            (ImportBenchmark.cachedFigure, ImportBenchmark.runCached),
            (ImportBenchmark.delegatedFigure, ImportBenchmark.runDelegated),
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
            if GracefulStop.isRequested {
                printError("pyloader bench: interrupted (Ctrl-C); no table")
                PyloaderCommand.endsBySIGINT = true
                throw ExitCode(130)
            }
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

    /// Probe mode: one measurement in this fresh process; prints numbers, then exits
    /// at once (finalizing hundreds of interpreters would only add time).
    static func runProbe(_ kind: String, count: Int) throws {
        guard count > 0 else { throw UsageError("--probe needs --count N") }
        try Loader.configure(RuntimeOptions())
        let output: String
        switch kind {
        case "memory": output = try MemoryBenchmark.probe(count: count, raw: false)
        case "raw-memory": output = try MemoryBenchmark.probe(count: count, raw: true)
        case "churn": output = try ChurnBenchmark.probe(count: count, raw: false)
        case "raw-churn": output = try ChurnBenchmark.probe(count: count, raw: true)
        case "call": output = try ActivationBenchmark.probe(count: count, current: false)
        case "call-current": output = try ActivationBenchmark.probe(count: count, current: true)
        default: throw UsageError("unknown probe '\(kind)'")
        }
        print(output)
        fflush(stdout)
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
