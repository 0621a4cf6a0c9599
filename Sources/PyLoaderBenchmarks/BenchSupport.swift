#if canImport(Glibc)
import Glibc
#endif

// The measuring tools `pyloader bench` shares between its figures: a monotonic
// clock, order statistics, RSS, subprocesses, and number formatting (no Foundation:
// the CLI links nothing it does not need).

// MARK: Clock

/// Nanoseconds on the monotonic clock.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// Seconds that `body` takes.
@inline(__always)
func secondsTaken(_ body: () throws -> Void) rethrows -> Double {
    let start = monotonicNanoseconds()
    try body()
    return Double(monotonicNanoseconds() - start) / 1e9
}

// MARK: Statistics

/// Repeated measurements of one quantity and their order statistics: the median,
/// the quartiles (interpolated, as numpy's default) and the extremes.
struct SampleStats {
    let samples: [Double]
    let median: Double
    let q1: Double
    let q3: Double
    let min: Double
    let max: Double

    init(_ samples: [Double]) {
        precondition(!samples.isEmpty, "no samples")
        self.samples = samples
        let sorted = samples.sorted()
        func quantile(_ q: Double) -> Double {
            let position = q * Double(sorted.count - 1)
            let lower = Int(position.rounded(.down)), upper = Swift.min(lower + 1, sorted.count - 1)
            return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
        }
        median = quantile(0.5)
        q1 = quantile(0.25)
        q3 = quantile(0.75)
        min = sorted.first!
        max = sorted.last!
    }

    /// Every sample minus a constant (a loop's own cost, measured alongside).
    func minus(_ offset: Double) -> SampleStats { SampleStats(samples.map { $0 - offset }) }
}

// MARK: Memory

/// The process's resident set size in bytes (`/proc/self/statm`, second field).
func residentBytes() -> Int {
    guard let file = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(file) }
    var size = 0, resident = 0
    guard readTwoNumbers(file, &size, &resident) else { return 0 }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
}

private func readTwoNumbers(_ file: UnsafeMutablePointer<FILE>, _ first: inout Int, _ second: inout Int) -> Bool {
    var buffer = [CChar](repeating: 0, count: 256)
    guard fgets(&buffer, Int32(buffer.count), file) != nil else { return false }
    let fields = String(nulTerminated: buffer).split(separator: " ")
    guard fields.count >= 2, let a = Int(fields[0]), let b = Int(fields[1]) else { return false }
    first = a
    second = b
    return true
}

// MARK: Subprocesses

/// What a finished subprocess left.
struct SubprocessResult {
    let status: Int32
    let output: String
}

enum BenchProcess {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `arguments` (the first is an absolute path) and waits for it.
    ///
    /// - Parameters:
    ///   - captureOutput: Keep its stdout (else /dev/null). Its stderr is /dev/null
    ///     unless `showErrors`.
    static func run(_ arguments: [String], captureOutput: Bool = false, showErrors: Bool = false) throws -> SubprocessResult {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var pipeEnds: [Int32] = [-1, -1]
        if captureOutput {
            guard pipe(&pipeEnds) == 0 else { throw Failure(description: "pipe() failed") }
            posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], STDOUT_FILENO)
            posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
        } else {
            posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0)
        }
        if !showErrors {
            posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
        }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, argv, environ)
        if captureOutput { close(pipeEnds[1]) }
        guard spawned == 0 else {
            if captureOutput { close(pipeEnds[0]) }
            throw Failure(description: "cannot start \(arguments[0]): \(String(cString: strerror(spawned)))")
        }
        var output: [UInt8] = []
        if captureOutput {
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(pipeEnds[0], &chunk, chunk.count)
                if count > 0 { output += chunk[0..<count] } else if count < 0 && errno == EINTR { continue } else { break }
            }
            close(pipeEnds[0])
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS are macros.
        let exited = (status & 0x7f) == 0
        return SubprocessResult(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f),
                                output: String(decoding: output, as: UTF8.self))
    }

    /// Runs it and returns its stdout, or throws when it fails.
    static func output(_ arguments: [String]) throws -> String {
        let result = try run(arguments, captureOutput: true, showErrors: true)
        guard result.status == 0 else {
            throw Failure(description: "\(arguments.prefix(4).joined(separator: " ")) ... exited with status \(result.status)")
        }
        return result.output
    }

    /// Seconds that one run takes (from spawn to reaped), failing on a non-zero status.
    static func timed(_ arguments: [String]) throws -> Double {
        var result = SubprocessResult(status: 0, output: "")
        let seconds = try secondsTaken { result = try run(arguments) }
        guard result.status == 0 else {
            throw Failure(description: "\(arguments.joined(separator: " ")) exited with status \(result.status)")
        }
        return seconds
    }
}

/// Numbers separated by white space, as the probes and the peer scripts print them.
func parseNumbers(_ text: String) -> [Double] {
    text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).compactMap { Double(String($0)) }
}

// MARK: Files

enum BenchFiles {
    /// Writes `text` to `path`, replacing it.
    static func write(_ text: String, to path: String) throws {
        guard let file = fopen(path, "w") else {
            throw BenchProcess.Failure(description: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        fputs(text, file)
    }

    static func makeDirectory(_ path: String) throws {
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw BenchProcess.Failure(description: "cannot make \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// A new empty folder under /tmp.
    static func makeTemporaryDirectory(prefix: String) throws -> String {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw BenchProcess.Failure(description: "mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    static func removeTree(_ path: String) {
        guard path.hasPrefix("/tmp/") else { return }
        _ = try? BenchProcess.run(["/bin/rm", "-rf", path])
    }

    /// The first line of `path` that starts with `prefix`, or nil.
    static func firstLine(of path: String, startingWith prefix: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            let line = String(nulTerminated: buffer)
            if line.hasPrefix(prefix) { return line.hasSuffix("\n") ? String(line.dropLast()) : line }
        }
        return nil
    }

    /// Runs `body` with `path` as the current folder, then goes back.
    static func inDirectory<R>(_ path: String, _ body: () throws -> R) throws -> R {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil, chdir(path) == 0 else {
            throw BenchProcess.Failure(description: "cannot change to \(path)")
        }
        defer { chdir(buffer) }
        return try body()
    }

    /// The path of the running executable.
    static func currentExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return count > 0 ? String(nulTerminated: buffer) : CommandLine.arguments[0]
    }
}

// MARK: Formatting

/// printf-style formatting of one number (`vsnprintf`; no Foundation here).
func formatted(_ format: String, _ value: Double) -> String {
    var buffer = [CChar](repeating: 0, count: 64)
    _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
    return String(nulTerminated: buffer)
}

/// Three significant digits, no exponent.
func significant(_ value: Double) -> String {
    let magnitude = abs(value)
    if magnitude >= 100 || magnitude == 0 { return formatted("%.0f", value) }
    if magnitude >= 10 { return formatted("%.1f", value) }
    if magnitude >= 1 { return formatted("%.2f", value) }
    return formatted("%.3f", value)
}

enum MeasureUnit: String {
    case seconds, bytes, count

    /// A value with a unit that suits its size: `212 ns`, `4.61 µs`, `6.12 ms`; `812 KiB`, `1.43 MiB`.
    func describe(_ value: Double) -> String {
        let (scaled, suffix) = scale(for: value)
        return significant(value / scaled) + (suffix.isEmpty ? "" : " " + suffix)
    }

    /// Several values in the unit that suits the first (for `median [q1–q3]`).
    func describe(_ values: [Double], reference: Double) -> [String] {
        let (scaled, _) = scale(for: reference)
        return values.map { significant($0 / scaled) }
    }

    func scale(for value: Double) -> (Double, String) {
        let magnitude = abs(value)
        switch self {
        case .seconds:
            if magnitude < 1e-6 { return (1e-9, "ns") }
            if magnitude < 1e-3 { return (1e-6, "µs") }
            if magnitude < 1 { return (1e-3, "ms") }
            return (1, "s")
        case .bytes:
            if magnitude < 1024 * 1024 { return (1024, "KiB") }
            return (1024 * 1024, "MiB")
        case .count:
            return (1, "")
        }
    }
}

/// A JSON string literal.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                out += "\\u" + String(scalar.value, radix: 16).leftPadded(to: 4)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// A JSON number (finite), or null.
func jsonNumber(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "null" }
    return formatted("%.9g", value)
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// Each side once per cycle, in turn, the order rotating cycle by cycle (so that a burst of
/// load on a shared machine hits them alike), `cycles` cycles a run, `runs` runs. Each side
/// returns the seconds it took; the result is each side's mean cycle, run by run.
func interleavedRuns(_ runs: Int, cycles: Int, _ sides: [() throws -> Double]) throws -> [[Double]] {
    var means = Array(repeating: [Double](), count: sides.count)
    for _ in 0..<runs {
        var sums = Array(repeating: 0.0, count: sides.count)
        for cycle in 0..<cycles {
            for step in sides.indices {
                let which = (step + cycle) % sides.count
                sums[which] += try sides[which]()
            }
        }
        for index in sides.indices { means[index].append(sums[index] / Double(cycles)) }
    }
    return means
}
