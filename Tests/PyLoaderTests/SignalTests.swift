import Foundation
import XCTest
@testable import PyLoader

/// Signals under the `pyloader` command (issue 16; the rules are in `Interrupts`): Ctrl-C
/// raises KeyboardInterrupt in whichever loader the main thread runs, nothing is lost, and
/// the exit status is python3's. Each case runs the CLI in its own process, started with
/// SIGINT at its default action (a launcher resets it: a shell's background jobs start with
/// it ignored), and sends it SIGINT while it runs.
final class SignalTests: XCTestCase {
    override func setUpWithError() throws {
        try Loader.configure(RuntimeOptions(writeBytecode: false))   // as every test of the suite
    }

    private struct Outcome {
        let reason: Process.TerminationReason
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Starts `pyloader ARGS`, sends `signal` after `delay` seconds, waits (at most 60 s).
    private func run(_ arguments: [String], signal: Int32 = SIGINT, after delay: Double,
                     marker: String? = "started") throws -> Outcome {
        try run(arguments, signal: signal, signals: [delay], marker: marker)
    }

    /// The same, sending `signal` at each of the `times` (seconds after the start).
    private func run(_ arguments: [String], signal: Int32 = SIGINT, signals times: [Double],
                     marker: String? = "started") throws -> Outcome {
        guard let executable = cliExecutable() else { throw XCTSkip("the pyloader executable is not built") }
        let folder = try temporaryFolder()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-I", "-S", "-c",
                             "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])",
                             executable] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        _ = FileManager.default.createFile(atPath: folder + "/out", contents: nil)
        _ = FileManager.default.createFile(atPath: folder + "/err", contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: folder + "/out"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: folder + "/err"))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // The times count from the program's "started" line (start-up takes longer under a
        // sanitizer or a loaded machine), at most 30 s after the start.
        let startedBy = Date().addingTimeInterval(30)
        while let marker, Date() < startedBy, process.isRunning,
              !((try? String(contentsOfFile: folder + "/out", encoding: .utf8)) ?? "").contains(marker) {
            usleep(20_000)
        }
        var elapsed = 0.0
        for time in times {
            usleep(UInt32(max(0, time - elapsed) * 1_000_000))
            elapsed = time
            kill(process.processIdentifier, signal)
        }
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            killProcessTree(process.processIdentifier)
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
            let outcome = try run(["run", "\(fixtures)/signals/\(script)", state], after: 1.0)
            XCTAssertEqual(outcome.reason, .exit, "\(variant): \(outcome.stderr)")
            XCTAssertEqual(outcome.status, 0, "\(variant): \(outcome.stderr)")
            XCTAssertTrue(outcome.stdout.contains("interrupted"), "\(variant): \(outcome.stdout)")
            let saved = Int((try? String(contentsOfFile: state, encoding: .utf8)) ?? "") ?? -1
            XCTAssertTrue((3..<100).contains(saved), "\(variant): saved state \(saved)")
        }
    }

    /// An uncaught KeyboardInterrupt prints its traceback, atexit callbacks run, and the
    /// process ends through SIGINT, as python3's does (a shell sees status 130).
    /// A busy loop in a child holds the GIL; on 3.11 the watcher that delivers Ctrl-C waited
    /// for the loop's end (60 s) before the fix in `pyl_RequestGILFromEveryInterpreter`.
    func testCtrlCInterruptsABusyLoopInAChild() throws {
        let outcome = try run(["run", "\(fixtures)/signals/busy_in_child.py"], after: 1.0)
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let line = outcome.stdout.split(separator: "\n").first { $0.hasPrefix("interrupted after ") }
        XCTAssertNotNil(line, outcome.stdout)
        let seconds = Double(line?.split(separator: " ")[2] ?? "") ?? 99
        XCTAssertLessThan(seconds, 30, outcome.stdout)
    }

    /// A KeyboardInterrupt raised inside one of PyLoader's best-effort calls into Python
    /// (whose failure only means "no answer") is delivered again, not cleared with the rest:
    /// the parent-first question's reading of the root's finders ate it before.
    func testAnInterruptThatLandsInPyLoadersOwnCallIsNotLost() throws {
        let outcome = try run(["run", "\(fixtures)/signals/interrupt_in_pyloader_call.py"], signals: [], marker: nil)
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        XCTAssertEqual(outcome.stdout, "delivered\n", outcome.stderr)
    }

    /// A Ctrl-C that lands in a weakref callback (importlib's module-lock callback runs on
    /// every import) is written off by CPython as unraisable; PyLoader delivers it again
    /// after the callback, and after a `sys.unraisablehook` written in Python (pytest's), in
    /// the root and in a child. python3 loses it. One was lost under `pyloader test` this way.
    func testAnInterruptWrittenOffAsUnraisableIsDeliveredAfterTheCallback() throws {
        let outcome = try run(["run", "\(fixtures)/signals/interrupt_in_weakref_callback.py"], signals: [], marker: nil)
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        XCTAssertEqual(outcome.stdout, """
            root default hook: delivered
            child default hook: delivered
            root python hook: delivered
            child python hook: delivered

            """, outcome.stderr)
    }

    /// SIGPIPE and SIGXFSZ are ignored as under python3: a write to a closed socket raises
    /// BrokenPipeError in the root and in a child instead of ending the process (status 141).
    func testAWriteToAClosedSocketRaisesBrokenPipeErrorAsUnderPython3() throws {
        let outcome = try run(["run", "\(fixtures)/signals/broken_pipe.py"], signals: [], marker: nil)
        XCTAssertEqual(outcome.reason, .exit, outcome.stderr)
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        XCTAssertEqual(outcome.stdout, "root: BrokenPipeError\nchild: BrokenPipeError\nSIGPIPE ignored\nSIGXFSZ ignored\n",
                       outcome.stderr)
    }

    func testAnUncaughtKeyboardInterruptEndsTheProcessThroughSIGINT() throws {
        for script in ["uncaught.py", "uncaught_in_child.py"] {
            let outcome = try run(["run", "\(fixtures)/signals/\(script)"], after: 1.0)
            XCTAssertEqual(outcome.reason, .uncaughtSignal, "\(script): \(outcome.stderr)")
            XCTAssertEqual(outcome.status, SIGINT, script)
            XCTAssertTrue(outcome.stderr.contains("KeyboardInterrupt"), "\(script): \(outcome.stderr)")
            XCTAssertTrue(outcome.stdout.contains("atexit ran"), "\(script): \(outcome.stdout)")
        }
    }

    /// `pyloader test`: the first Ctrl-C lets the current test finish and stops the run there,
    /// printing the summary so far, marked interrupted; the process ends through SIGINT.
    func testAnInterruptedTestRunStopsAfterTheCurrentTestAndPrintsAPartialSummary() throws {
        let outcome = try run(["test", "\(fixtures)/signals/slowsuite"], after: 1.2)
        XCTAssertEqual(outcome.reason, .uncaughtSignal, outcome.stdout)
        XCTAssertEqual(outcome.status, SIGINT)
        XCTAssertTrue(outcome.stdout.contains("Interrupted (Ctrl-C)"), outcome.stdout)
        let summary = outcome.stdout.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(["1 passed, 0 failed", "2 passed, 0 failed", "3 passed, 0 failed", "4 passed, 0 failed",
                       "5 passed, 0 failed"].contains(summary), summary)
    }

    /// A second Ctrl-C does not wait: the running test ends with KeyboardInterrupt.
    func testASecondCtrlCStopsTheTestRunAtOnce() throws {
        let outcome = try run(["test", "\(fixtures)/signals/slowsuite"], signals: [1.2, 1.3])
        XCTAssertEqual(outcome.reason, .uncaughtSignal, outcome.stdout)
        XCTAssertTrue(outcome.stdout.contains("Interrupted (Ctrl-C)"), outcome.stdout)
        let summary = outcome.stdout.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(summary.hasSuffix(", 1 failed"), summary)
        XCTAssertTrue(outcome.stdout.contains("KeyboardInterrupt"), outcome.stdout)
    }

    /// `pyloader bench` stops at the next figure and ends through SIGINT, printing no table.
    /// `pyloader test --runner pytest` whose session hangs in a conftest hook (the session's
    /// own thread, which a Ctrl-C does not reach): the first Ctrl-C is kept for the session,
    /// a second one ends the command at once, through SIGINT.
    func testASecondCtrlCEndsAPytestSessionThatHangs() throws {
        let pytest = ((fixtures as NSString).deletingLastPathComponent as NSString).appendingPathComponent(".test-deps/pytest")
        guard FileManager.default.fileExists(atPath: pytest + "/pytest") else {
            throw XCTSkip("pytest is not installed in .test-deps/pytest (Scripts/install-test-deps)")
        }
        let suite = try temporaryFolder()
        try "[loaders.tests]\npaths = [\"\(pytest)\"]\n".write(toFile: suite + "/pyloader.toml", atomically: true, encoding: .utf8)
        try """
            import time


            def pytest_sessionfinish(session):
                if not hasattr(session.config, "workerinput"):   # the session, not a fresh loader
                    print("finishing slowly", flush=True)
                    time.sleep(60)

            """.write(toFile: suite + "/conftest.py", atomically: true, encoding: .utf8)
        try "def test_one():\n    pass\n".write(toFile: suite + "/test_one.py", atomically: true, encoding: .utf8)
        let started = Date()
        let outcome = try run(["test", "--manifest", suite + "/pyloader.toml", "--in", "tests", "--runner", "pytest",
                               suite, "--", "-q", "-s", "-p", "no:cacheprovider"],
                              signals: [0.5, 1.5], marker: "finishing slowly")
        XCTAssertLessThan(Date().timeIntervalSince(started), 40, "the second Ctrl-C did not end the command")
        // Through SIGINT, as python3 ends on an uncaught KeyboardInterrupt (a shell sees 130).
        XCTAssertEqual(outcome.reason, .uncaughtSignal, "\(outcome.stdout)\n\(outcome.stderr)")
        XCTAssertEqual(outcome.status, SIGINT, "\(outcome.stdout)\n\(outcome.stderr)")
        XCTAssertTrue(outcome.stdout.contains("finishing slowly"), outcome.stdout)
    }

    func testBenchStopsAtCtrlC() throws {
        let outcome = try run(["bench", "--quick"], after: 2.0, marker: nil)
        XCTAssertEqual(outcome.reason, .uncaughtSignal, outcome.stderr)
        XCTAssertEqual(outcome.status, SIGINT)
        XCTAssertTrue(outcome.stderr.contains("interrupted"), outcome.stderr)
        XCTAssertFalse(outcome.stdout.contains("Goals:"), outcome.stdout)
    }

    /// SIGTERM ends the command at once, through SIGTERM (after removing its copies).
    func testSIGTERMEndsTheCommand() throws {
        let outcome = try run(["run", "\(fixtures)/signals/uncaught.py"], signal: SIGTERM, after: 1.0)
        XCTAssertEqual(outcome.reason, .uncaughtSignal)
        XCTAssertEqual(outcome.status, SIGTERM)
    }

    /// Drives `pyloader ARGS` on a pseudo-terminal (Fixtures/signals/drive_prompt.py).
    private func prompt(_ lines: [String], _ arguments: [String]) throws -> String {
        guard let executable = cliExecutable() else { throw XCTSkip("the pyloader executable is not built") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        let json = "[" + lines.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ", ") + "]"
        process.arguments = ["-I", "-S", "\(fixtures)/signals/drive_prompt.py", json, executable] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: fixtures + "/..")
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// The prompt like python3's, inside a child loader: multi-line input, Ctrl-C (which
    /// discards the line and prompts again), `pyloader` importable, `exit(3)`.
    func testTheInteractivePromptRunsInsideTheLoader() throws {
        let shown = try prompt(["import pyloader, greeting", "for i in range(2):", "    print('line', i)", "",
                                "print(pyloader.current().name, greeting.__version__)", "^C", "exit(3)"],
                               ["run", "--manifest", "Fixtures/demo/pyloader.toml", "--in", "alpha"])
        XCTAssertTrue(shown.contains("PyLoader: loader 'alpha'"), shown)
        XCTAssertTrue(shown.contains("line 0\nline 1"), shown)
        XCTAssertTrue(shown.contains("alpha 1.0"), shown)
        XCTAssertTrue(shown.contains("KeyboardInterrupt"), shown)
        XCTAssertTrue(shown.hasSuffix("[exit status 3]\n"), shown)
    }

    /// `-i`: the prompt after the script, in its namespace; Ctrl-D ends it (status 0).
    func testInspectAfterAScript() throws {
        let folder = try temporaryFolder()
        try write(folder + "/x.py", "X = 5\n")
        let shown = try prompt(["print(X * 2, __import__('sys').argv)", "^D"], ["run", "-i", folder + "/x.py", "arg"])
        XCTAssertTrue(shown.contains("10 ['\(folder)/x.py', 'arg']"), shown)
        XCTAssertTrue(shown.hasSuffix("[exit status 0]\n"), shown)
    }

    /// `pyloader run -` and `pyloader run` with standard input not a terminal read the program from it.
    func testTheProgramFromStandardInput() throws {
        guard let executable = cliExecutable() else { throw XCTSkip("the pyloader executable is not built") }
        for arguments in [["run", "-", "a"], ["run"]] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let input = Pipe(), output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            try process.run()
            input.fileHandleForWriting.write(Data("import sys\nprint(6 * 7, sys.argv)\nsys.exit(4)\n".utf8))
            try input.fileHandleForWriting.close()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(text, arguments.count == 3 ? "42 ['-', 'a']\n" : "42 ['-']\n", "\(arguments)")
            XCTAssertEqual(process.terminationStatus, 4, "\(arguments)")
        }
    }

    /// A process killed by SIGKILL while holding copies of an extension module leaves them on
    /// disk; the next pyloader process that makes copies removes them, and never the copies
    /// of a process that is still alive.
    func testCopiesOfAKilledProcessAreRemovedByTheNextAndLiveOnesAreKept() throws {
        guard let executable = cliExecutable() else { throw XCTSkip("the pyloader executable is not built") }
        let folder = try temporaryFolder(), cache = try temporaryFolder()
        let name = uniqueName("sigcopy").replacingOccurrences(of: "-", with: "_")
        try write("\(folder)/\(name).c", counterSource)
        try shell("cc -shared -fPIC $(pkg-config --cflags python3-embed) -DEXT_NAME=\(name)"
                  + " '\(folder)/\(name).c' -o '\(folder)/\(name)\(extensionSuffix)'")
        // Two children import the extension: the second gets a copy in the cache folder.
        let program = "import pyloader, sys, time\n"
            + "for n in ('a', 'b'):\n    pyloader.root().child(n, paths=[\(pythonLiteral(folder))]).import_module('\(name)')\n"
            + "print('ready', flush=True)\ntime.sleep(float(sys.argv[1]))\n"
        func start(_ seconds: String) throws -> (Process, Pipe) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["run", "-c", program, seconds]
            var environment = ProcessInfo.processInfo.environment
            environment["PYLOADER_CACHE"] = cache
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            _ = output.fileHandleForReading.availableData   // "ready": the copies exist
            return (process, output)
        }
        func copyFolders() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []).filter { $0.hasPrefix("pyloader-") }.sorted()
        }
        let (killed, _) = try start("60")
        XCTAssertEqual(copyFolders().count, 1)
        kill(killed.processIdentifier, SIGKILL)
        killed.waitUntilExit()
        let left = copyFolders()
        XCTAssertEqual(left.count, 1, "SIGKILL left the copies behind, as expected")
        let (alive, _) = try start("60")
        defer { kill(alive.processIdentifier, SIGKILL); alive.waitUntilExit() }
        XCTAssertEqual(copyFolders(), copyFolders().filter { !left.contains($0) }, "the killed process's copies are gone")
        let aliveFolders = copyFolders()
        XCTAssertEqual(aliveFolders.count, 1)
        // A third process, alongside, keeps the live one's copies and removes its own at exit.
        let (third, _) = try start("0")
        third.waitUntilExit()
        XCTAssertEqual(third.terminationStatus, 0)
        XCTAssertEqual(copyFolders(), aliveFolders)
    }

    /// Library use: the host's signals stay its own (the test process is one such host).
    func testTheLibraryLeavesSignalsAloneByDefault() throws {
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
