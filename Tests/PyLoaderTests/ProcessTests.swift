import Foundation
import XCTest
@testable import PyLoader

/// Processes made from loaders (issue 17; the rules are in `Forking`). Every row runs in its
/// own `pyloader run` process with a time limit: a hang fails the row instead of the suite.
final class ProcessTests: XCTestCase {
    /// Runs `Fixtures/processes/<script>.py` under the CLI; (status, stdout lines, stderr).
    private func runScript(_ script: String, timeout: Double = 90) throws -> (Int32, [String], String) {
        let result = try runCLI(["run", "\(fixtures)/processes/\(script).py"], timeout: timeout)
        return (result.status, result.lines, result.errors)
    }

    /// Before: the forked process hung in CPython's after-fork code (any sub-interpreter
    /// alive), and so did a fork-context Pool and subprocess with preexec_fn. Then: a forked
    /// process ignored SIGTERM (PyLoader's handler, without its watcher thread), so the
    /// Pool's terminate() hung at times, waiting for a worker that had not left yet.
    func testForkFromTheRootWithChildLoadersAliveWorks() throws {
        let (status, lines, errors) = try runScript("fork_in_root")
        XCTAssertEqual(status, 0, errors)
        XCTAssertEqual(lines, [
            "forked process exit status: 3",
            "parent loaders: ['root', 'forkroot-0', 'forkroot-1', 'forkroot-2'] 4",
            "fork pool: [1, 2, 3]",
            "preexec_fn: 4",
            "SIGTERM ends a forked process: True",
        ], errors)
    }

    /// Before: os.fork in a child killed the forked process ("Fatal Python error:
    /// _PyInterpreterState_DeleteExceptMain: not main interpreter"), Pool() hung forever and
    /// ProcessPoolExecutor broke.
    func testProcessesFromAChildLoaderWorkOrRaiseAClearError() throws {
        let (status, lines, errors) = try runScript("fork_in_child")
        XCTAssertEqual(status, 0, errors)
        XCTAssertEqual(lines, [
            "os.fork: RuntimeError True",
            "pty.fork: RuntimeError False",   // CPython 3.11's own refusal, which does not name the loader
            "start method: spawn",
            "Pool(): [1, 2]",
            "ProcessPoolExecutor: [5, 6]",
            "fork context: RuntimeError",
            "subprocess: 4",
            "preexec_fn: preexec_fn not supported within subinterpreters",
            "root code under the child: RuntimeError True",
        ], errors)
    }

    /// The same rules from Swift: `exec` of a fork in a child throws a PythonError
    /// (RuntimeError) and leaves the loader usable.
    func testForkInAChildFromSwiftIsAPythonError() throws {
        try Loader.configure(RuntimeOptions(writeBytecode: false))
        let child = try Loader.root.child(uniqueName("forkswift"))
        defer { try? child.close() }
        XCTAssertThrowsError(try child.exec("import os\nos.fork()")) { error in
            XCTAssertEqual((error as? PythonError)?.typeName, "RuntimeError")
            XCTAssertTrue((error as? PythonError)?.message.contains(child.name) ?? false, "\(error)")
        }
        XCTAssertEqual(try Int(python: try child.eval("6 * 7")), 42)
    }
}
