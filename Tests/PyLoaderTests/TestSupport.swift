import XCTest
@testable import PyLoader

/// The package's Fixtures folder.
let fixtures: String = {
    var path = #filePath
    for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
    return path + "/Fixtures"
}()

private let counter = Lock()
nonisolated(unsafe) private var nextNumber = 0

/// A loader name no other test uses.
func uniqueName(_ prefix: String) -> String {
    counter.withLock {
        nextNumber += 1
        return "\(prefix)-\(nextNumber)"
    }
}

/// A base class that makes loaders under the root and closes whatever a test left open.
class LoaderTestCase: XCTestCase {
    private var made: [Loader] = []

    override func setUpWithError() throws {
        try Loader.configure(RuntimeOptions(writeBytecode: false))
    }

    override func tearDownWithError() throws {
        for loader in made.reversed() where !loader.isClosed {
            try loader.close()
        }
        made.removeAll()
    }

    /// A new child of `parent` (default: the root), closed after the test.
    func makeChild(_ prefix: String = "t", of parent: Loader? = nil, paths: [String] = [],
                   delegation: Delegation = .parentFirst, shared: [String] = [], local: [String] = []) throws -> Loader {
        let parent = try parent ?? Loader.root
        let child = try parent.child(uniqueName(prefix), paths: paths, delegation: delegation, shared: shared, local: local)
        made.append(child)
        return child
    }

    /// Evaluates `expression` and converts it.
    func value<T: ConvertibleFromPython>(_ loader: Loader, _ expression: String, as type: T.Type = T.self) throws -> T {
        try loader.eval(expression).converted(to: T.self)
    }
}

/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny seeded generator, the same on every
/// platform, so a fuzz or stress run that fails can be repeated from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(Swift.max(bound, 1))) }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

/// Kills `pid` and every process below it (SIGKILL), children first: a hung `pyloader`
/// may have forked (Pool workers), and a descendant left running kept Foundation's
/// `waitUntilExit` of the killed process waiting, so a hang row hung the whole suite.
func killProcessTree(_ pid: pid_t) {
    var children: [pid_t: [pid_t]] = [:]
    if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") {
        for entry in entries {
            guard let process = pid_t(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // "pid (name) state ppid ...": the name may hold spaces and parentheses.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = pid_t(fields[1]) { children[parent, default: []].append(process) }
        }
    }
    func kill(_ pid: pid_t) {
        for child in children[pid] ?? [] { kill(child) }
        Glibc.kill(pid, SIGKILL)
    }
    kill(pid)
}

/// What a program run by `runProcess` did.
struct ProcessOutcome {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs a program to completion with a time limit, its output captured in files (pipes
/// could fill up and block it), `PYTHONDONTWRITEBYTECODE` set and `environment` merged
/// in (an empty value removes the variable); SIGINT after `interruptAfter` seconds when
/// given. A hang fails the calling test and kills the program and all it forked.
func runProcess(_ executable: String, _ arguments: [String], in directory: String? = nil,
                environment extra: [String: String] = [:], interruptAfter delay: Double? = nil,
                timeout: Double = 90) throws -> ProcessOutcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    var environment = ProcessInfo.processInfo.environment
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    for (key, value) in extra { environment[key] = value.isEmpty ? nil : value }
    process.environment = environment
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let outFile = folder + "/out", errFile = folder + "/err"
    _ = FileManager.default.createFile(atPath: outFile, contents: nil)
    _ = FileManager.default.createFile(atPath: errFile, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outFile))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errFile))
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    var interruptAt = delay.map { Date().addingTimeInterval($0) }
    while process.isRunning && Date() < deadline {
        if let moment = interruptAt, Date() >= moment {
            kill(process.processIdentifier, SIGINT)
            interruptAt = nil
        }
        usleep(20_000)
    }
    if process.isRunning {
        killProcessTree(process.processIdentifier)
        process.waitUntilExit()
        XCTFail("\(executable) \(arguments.joined(separator: " ")) hung (killed after \(timeout) s):\n"
                + ((try? String(contentsOfFile: outFile, encoding: .utf8)) ?? ""))
    }
    process.waitUntilExit()
    return ProcessOutcome(status: process.terminationStatus,
                          stdout: try String(contentsOfFile: outFile, encoding: .utf8),
                          stderr: try String(contentsOfFile: errFile, encoding: .utf8))
}

/// Runs `pyloader ARGUMENTS` (the built CLI) with a time limit; (status, stdout lines,
/// stderr). Skips the test when the CLI is not built.
func runCLI(_ arguments: [String], timeout: Double = 90) throws -> (status: Int32, lines: [String], errors: String) {
    guard let executable = cliExecutable() else {
        throw XCTSkip("the pyloader executable is not built next to the test bundle")
    }
    let outcome = try runProcess(executable, arguments, timeout: timeout)
    return (outcome.status, outcome.stdout.split(separator: "\n").map(String.init), outcome.stderr)
}

/// The built `pyloader` executable: `$PYLOADER_EXECUTABLE`, else next to the test bundle.
func cliExecutable() -> String? {
    var candidates: [String] = []
    if let explicit = ProcessInfo.processInfo.environment["PYLOADER_EXECUTABLE"] { candidates.append(explicit) }
    if let bundle = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        candidates.append((bundle as NSString).deletingLastPathComponent + "/pyloader")
    }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}
