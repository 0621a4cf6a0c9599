import Foundation
import XCTest
@testable import PyLoader

/// Signals under the `pyloader` command (issue 16; the rules are in `Interrupts`): Ctrl-C
/// raises KeyboardInterrupt in whichever loader the main thread runs, nothing is lost, and
/// the exit status is python3's. Each case runs the CLI in its own process, started with
/// SIGINT at its default action (a launcher resets it: a shell's background jobs start with
/// it ignored), and sends it SIGINT while it runs.
final class SignalTests: XCTestCase {
    private struct Outcome {
        let reason: Process.TerminationReason
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Starts `pyloader ARGS`, sends `signal` after `delay` seconds, waits (at most 60 s).
    private func run(_ arguments: [String], signal: Int32 = SIGINT, after delay: Double) throws -> Outcome {
        guard let executable = cliExecutable() else { throw XCTSkip("the pyloader executable is not built") }
        let folder = try temporaryFolder()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-I", "-S", "-c",
                             "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])",
                             executable] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        FileManager.default.createFile(atPath: folder + "/out", contents: nil)
        FileManager.default.createFile(atPath: folder + "/err", contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: folder + "/out"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: folder + "/err"))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        usleep(UInt32(delay * 1_000_000))
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            XCTFail("pyloader \(arguments) did not end after the signal")
        }
        process.waitUntilExit()
        return Outcome(reason: process.terminationReason, status: process.terminationStatus,
                       stdout: try String(contentsOfFile: folder + "/out", encoding: .utf8),
                       stderr: try String(contentsOfFile: folder + "/err", encoding: .utf8))
    }

    /// The script of issue 16: it must print "interrupted" and save its state, in the root
    /// and inside a child loader.
    func testCtrlCRaisesKeyboardInterruptAndTheScriptSavesItsState() throws {
        for (variant, script) in [("root", "save.py"), ("child", "save_in_child.py")] {
            let state = try temporaryFolder() + "/saved-state.txt"
            let outcome = try run(["run", "\(fixtures)/signals/\(script)", state], after: 1.5)
            XCTAssertEqual(outcome.reason, .exit, "\(variant): \(outcome.stderr)")
            XCTAssertEqual(outcome.status, 0, "\(variant): \(outcome.stderr)")
            XCTAssertTrue(outcome.stdout.contains("interrupted"), "\(variant): \(outcome.stdout)")
            let saved = Int((try? String(contentsOfFile: state, encoding: .utf8)) ?? "") ?? -1
            XCTAssertTrue((3..<100).contains(saved), "\(variant): saved state \(saved)")
        }
    }

    /// An uncaught KeyboardInterrupt prints its traceback, atexit callbacks run, and the
    /// process ends through SIGINT, as python3's does (a shell sees status 130).
    func testAnUncaughtKeyboardInterruptEndsTheProcessThroughSIGINT() throws {
        for script in ["uncaught.py", "uncaught_in_child.py"] {
            let outcome = try run(["run", "\(fixtures)/signals/\(script)"], after: 1.5)
            XCTAssertEqual(outcome.reason, .uncaughtSignal, "\(script): \(outcome.stderr)")
            XCTAssertEqual(outcome.status, SIGINT, script)
            XCTAssertTrue(outcome.stderr.contains("KeyboardInterrupt"), "\(script): \(outcome.stderr)")
            XCTAssertTrue(outcome.stdout.contains("atexit ran"), "\(script): \(outcome.stdout)")
        }
    }

    /// `pyloader test` stops at Ctrl-C and prints the summary so far, marked interrupted.
    func testAnInterruptedTestRunPrintsAPartialSummary() throws {
        let outcome = try run(["test", "\(fixtures)/signals/slowsuite"], after: 1.7)
        XCTAssertEqual(outcome.reason, .uncaughtSignal, outcome.stdout)
        XCTAssertTrue(outcome.stdout.contains("Interrupted (Ctrl-C)"), outcome.stdout)
        let summary = outcome.stdout.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(summary.hasSuffix("1 failed"), summary)
        XCTAssertFalse(outcome.stdout.contains("6 passed"), outcome.stdout)
    }

    /// SIGTERM ends the command at once, through SIGTERM (after removing its copies).
    func testSIGTERMEndsTheCommand() throws {
        let outcome = try run(["run", "\(fixtures)/signals/uncaught.py"], signal: SIGTERM, after: 1.0)
        XCTAssertEqual(outcome.reason, .uncaughtSignal)
        XCTAssertEqual(outcome.status, SIGTERM)
    }

    /// Library use: the host's signals stay its own (the test process is one such host).
    func testTheLibraryLeavesSignalsAloneByDefault() throws {
        try Loader.configure(RuntimeOptions(writeBytecode: false))
        // None: no Python-level handler (CPython started without its own); the CLI's is
        // PyLoader's `_pyloader_sigint`.
        let handler = try String(python: try Loader.root.eval("repr(__import__('signal').getsignal(2))"))
        XCTAssertFalse(handler.contains("_pyloader_sigint"), handler)
    }

    /// Copy folders of processes that no longer exist are removed; a live one is kept.
    func testCopyFoldersOfEndedProcessesAreRemoved() throws {
        let parent = try temporaryFolder()
        let ended = Process()
        ended.executableURL = URL(fileURLWithPath: "/bin/true")
        try ended.run()
        ended.waitUntilExit()
        let alive = Process()
        alive.executableURL = URL(fileURLWithPath: "/bin/sleep")
        alive.arguments = ["30"]
        try alive.run()
        defer { alive.terminate() }
        let stale = "\(parent)/pyloader-\(ended.processIdentifier)-abcdef"
        let live = "\(parent)/pyloader-\(alive.processIdentifier)-ghijkl"
        for folder in [stale, live] {
            try makeFolder(folder)
            try makeFolder(folder + "/plug.3")
            try write(folder + "/plug.3/big.so", String(repeating: "x", count: 4096))
        }
        ExtensionModules.removeFoldersOfEndedProcesses(in: parent)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale))
        XCTAssertTrue(FileManager.default.fileExists(atPath: live + "/plug.3/big.so"))
    }
}
