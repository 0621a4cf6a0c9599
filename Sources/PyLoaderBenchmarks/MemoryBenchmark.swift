#if canImport(Glibc)
import Glibc
#endif
import CPython
@_spi(Measurement) import PyLoader

/// RSS per idle live child at 10 / 100 / 1000 alive. Each measurement runs in a
/// fresh process of this executable (a probe), so that memory freed by earlier
/// figures cannot be reused and hide what a child costs.
enum MemoryBenchmark {
    static let figure = "memory per idle live child"
    static let mebibyte = 1024.0 * 1024.0

    static func run(_ context: BenchContext) throws -> [BenchRow] {
        // One python3 -I -S process, as it sees itself.
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        var processRSS: [Double] = []
        for _ in 0..<5 {
            let pages = try context.pythonNumbers("print(open('/proc/self/statm').read().split()[1])")
            processRSS += pages.prefix(1).map { $0 * pageSize }
        }
        var rows: [BenchRow] = []
        for (count, runs) in context.plan.memoryCounts {
            context.progress("memory: \(count) idle children alive, \(runs) fresh processes")
            var ours: [Double] = [], raw: [Double] = []
            for _ in 0..<runs {
                ours.append(try perLoader(context.probe("memory", count: count), count: count))
                raw.append(try perLoader(context.probe("raw-memory", count: count), count: count))
            }
            let value = SampleStats(ours)
            rows.append(BenchRow(figure: figure, subject: "\(count) alive: RSS delta per child", unit: .bytes, value: value,
                                 peer: "one python3 -I -S process (its RSS)", peerValue: SampleStats(processRSS),
                                 goal: .valueAtMost(mebibyte),
                                 note: count == context.plan.memoryCounts.first?.count
                                    ? "(RSS after N children − RSS before) ÷ N, in a fresh process per run, after two warm-up "
                                        + "children made and closed; goal 1 MB read as 1 MiB. The raw floor: the same with "
                                        + "Py_NewInterpreter alone." : nil))
            rows.append(BenchRow(figure: figure, subject: "\(count) alive: RSS delta per child", unit: .bytes, value: value,
                                 peer: "raw Py_NewInterpreter, \(count) alive (floor)", peerValue: SampleStats(raw)))
        }
        if let largest = context.plan.memoryCounts.last, largest.count >= 1000 {
            // A probe that could not make every child would have failed, and thrown above.
            rows.append(BenchRow(figure: figure, subject: "children alive at once in one process", unit: .count,
                                 value: SampleStats(Array(repeating: Double(largest.count), count: largest.runs)),
                                 goal: .valueAtLeast(1000)))
        }
        return rows
    }

    private static func perLoader(_ numbers: [Double], count: Int) throws -> Double {
        guard numbers.count >= 2 else { throw BenchProcess.Failure(description: "memory probe: bad output") }
        return (numbers[1] - numbers[0]) / Double(count)
    }

    /// Probe mode: makes `count` idle children (raw sub-interpreters when `raw`) and
    /// prints the RSS before and after, in bytes.
    static func probe(count: Int, raw: Bool) throws -> String {
        let root = try Loader.root
        for _ in 0..<2 {
            if raw {
                try Loader.withRootActivated { try RawInterpreters.makeAndEnd() }
            } else {
                try root.child("probe-warm-up").close()
            }
        }
        let before = residentBytes()
        var children: [Loader] = []
        var rawStates: [UnsafeMutablePointer<PyThreadState>] = []
        for index in 0..<count {
            if raw {
                rawStates.append(try Loader.withRootActivated { try RawInterpreters.make() })
            } else {
                children.append(try root.child("idle-\(index)"))
            }
        }
        let after = residentBytes()
        return "\(before) \(after)"
    }
}
