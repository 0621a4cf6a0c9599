@_spi(Measurement) import PyLoader

/// Create/close churn: RSS growth over many cycles after a warm-up, in a fresh
/// process; the raw `Py_NewInterpreter` + `Py_EndInterpreter` floor beside it,
/// which shows how much of the growth is CPython's own.
enum ChurnBenchmark {
    static let figure = "create/close churn"

    static func run(_ context: BenchContext) throws -> [BenchRow] {
        let cycles = context.plan.churnCycles
        context.progress("churn: \(cycles) create/close cycles (PyLoader, then the raw floor)")
        let ours = try context.probe("churn", count: cycles)
        let raw = try context.probe("raw-churn", count: cycles)
        let warmUp = warmUpCycles(cycles)
        return [
            BenchRow(figure: figure, subject: "\(cycles) cycles: RSS growth after warm-up", unit: .bytes,
                     value: SampleStats([ours[1] - ours[0]]),
                     peer: "raw Py_NewInterpreter + Py_EndInterpreter, same cycles", peerValue: SampleStats([raw[1] - raw[0]]),
                     goal: .valueAtMost(5 * 1024 * 1024),
                     note: "RSS at the end − RSS after the first \(warmUp) cycles, one fresh process each; "
                        + "RSS every \(cycles / 10) cycles (KiB), PyLoader: \(trace(ours)); floor: \(trace(raw)). "
                        + "Time per cycle over the whole churn: PyLoader \(MeasureUnit.seconds.describe(ours[2])), "
                        + "floor \(MeasureUnit.seconds.describe(raw[2]))."),
        ]
    }

    static func warmUpCycles(_ cycles: Int) -> Int { max(100, cycles / 10) }

    private static func trace(_ numbers: [Double]) -> String {
        numbers.dropFirst(3).map { String(Int($0 / 1024)) }.joined(separator: " ")
    }

    /// Probe mode: `count` create/close cycles; prints RSS after the warm-up, RSS at
    /// the end, seconds per cycle, then RSS every tenth of the way.
    static func probe(count: Int, raw: Bool) throws -> String {
        let root = try Loader.root
        let warmUp = warmUpCycles(count)
        let step = max(1, count / 10)
        var afterWarmUp = 0
        var samples: [Int] = []
        let seconds = try secondsTaken {
            for cycle in 1...count {
                if raw {
                    try Loader.withRootActivated { try RawInterpreters.makeAndEnd() }
                } else {
                    try root.child("churn").close()
                }
                if cycle == warmUp { afterWarmUp = residentBytes() }
                if cycle % step == 0 { samples.append(residentBytes()) }
            }
        }
        return ([afterWarmUp, residentBytes()].map(String.init) + [String(seconds / Double(count))]
                + samples.map(String.init)).joined(separator: " ")
    }
}
