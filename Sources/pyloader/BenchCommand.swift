import ArgumentParser
import PyLoaderBenchmarks

/// `pyloader bench`: the entry point of the `PyLoaderBenchmarks` target (BENCHMARKS.md
/// explains each figure).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure PyLoader against CPython's floor and the alternatives (a release build: swift build -c release, then .build/release/pyloader bench).",
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
        do {
            if let probe { try Benchmarks.runProbe(probe, count: count) }
            try Benchmarks.run(quick: quick, only: only, jsonFile: jsonFile)
        } catch Benchmarks.Stop.interrupted {
            printError("pyloader bench: interrupted (Ctrl-C); no table")
            PyloaderCommand.endsBySIGINT = true
            throw ExitCode(130)
        } catch Benchmarks.Stop.badProbe(let message) {
            throw UsageError(message)
        }
    }
}
