import CPython
import Foundation
import XCTest
@testable import PyLoader

/// The fault matrix of issue 7, split by concern into the `FaultMatrix*Tests` classes:
/// one test per row. Every row asserts the exact error (the `LoaderError` case, or the
/// Python exception type of a `PythonError`) and then that the process and the other
/// loaders are still healthy (`assertHealthy`): a bystander sibling made before the fault
/// still has its state and still imports, the root still evaluates, and a fresh loader can
/// still be made and closed.
///
/// Rows whose fault would end the process (a crash, an abort, a deadlock) run their body
/// in a child process (`SubprocessScenarioTests`), so they fail instead of taking the
/// suite down. The manifest rows need `Manifest.parse`; the `os._exit` row runs the
/// `pyloader` CLI (skipped when it is not built next to the test bundle).
class FaultMatrixTestCase: LoaderTestCase {
    /// A sibling made before each fault, with state the fault must not disturb.
    var bystander: Loader!
    /// Folders made by the test, removed afterwards.
    var folders: [String] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        bystander = try makeChild("bystander")
        try bystander.exec("import json\nstate = 41")
    }

    override func tearDownWithError() throws {
        try super.tearDownWithError()
        for folder in folders {
            _ = chmod(folder, 0o755)
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    // MARK: - Helpers

    /// The process is healthy: the bystander kept its state and still imports, the root
    /// evaluates, a new loader can be made, used and closed, and every live loader of
    /// the registry answers.
    func assertHealthy(file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertFalse(bystander.isClosed, "the bystander was closed", file: file, line: line)
        XCTAssertEqual(try value(bystander, "state + 1", as: Int.self), 42, file: file, line: line)
        XCTAssertEqual(try value(bystander, "json.dumps([1])", as: String.self), "[1]", file: file, line: line)
        XCTAssertEqual(try value(bystander, "__import__('fractions').Fraction(1, 2).denominator", as: Int.self), 2,
                       file: file, line: line)
        XCTAssertEqual(try value(try Loader.root, "6 * 7", as: Int.self), 42, file: file, line: line)
        let fresh = try Loader.root.child(uniqueName("fresh"))
        XCTAssertEqual(try value(fresh, "__import__('pyloader').current().name", as: String.self), fresh.name,
                       file: file, line: line)
        try fresh.close()
        let names = try value(bystander, "[l.name for l in __import__('pyloader').loaders()]", as: [String].self)
        XCTAssertEqual(names.first, "root", file: file, line: line)
        XCTAssertTrue(names.contains(bystander.name), file: file, line: line)
    }

    func assertLoaderError(_ expected: LoaderError, file: StaticString = #filePath, line: UInt = #line,
                                   _ body: () throws -> Void) throws {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual(error as? LoaderError, expected, "\(error)", file: file, line: line)
        }
    }

    /// Runs `source` (statements) in `loader` and checks that it raises `type`.
    func assertPythonError(_ type: String, in loader: Loader, _ source: String, containing text: String? = nil,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertThrowsError(try loader.exec(source), source, file: file, line: line) { error in
            guard let error = error as? PythonError else {
                return XCTFail("expected a PythonError \(type), got \(error)", file: file, line: line)
            }
            XCTAssertEqual(error.typeName, type, "\(source): \(error)", file: file, line: line)
            if let text {
                XCTAssertTrue(error.message.contains(text), "\(error.message) lacks \(text)", file: file, line: line)
            }
        }
    }

    /// Runs a scenario of `SubprocessScenarioTests` in a fresh test process and checks it
    /// ended normally with status 0 (a crash there cannot take this process down).
    func assertScenarioSucceeds(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let outcome = try runScenario(name)
        XCTAssertEqual(outcome.reason, .exit, "scenario \(name) was killed by a signal:\n\(outcome.output.suffix(3000))",
                       file: file, line: line)
        XCTAssertEqual(outcome.status, 0, "scenario \(name) failed:\n\(outcome.output.suffix(3000))", file: file, line: line)
    }

    /// The type name of the Python exception `source` raises in `loader` (nil if none).
    func pythonErrorType(in loader: Loader, _ source: String) throws -> String? {
        do {
            try loader.exec(source)
            return nil
        } catch let error as PythonError {
            return error.typeName
        }
    }

    /// No loader of that name exists and the root has no such child.
    func assertNothingMade(named name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertNil(Loader.named(name), file: file, line: line)
        XCTAssertFalse(try Loader.root.children.contains { $0.name == name }, file: file, line: line)
    }

    func scratchFolder() throws -> String {
        let folder = try temporaryFolder()
        _ = chmod(folder, 0o755)   // searchable by `nobody` (see testUnreadablePathIsInvalidPath)
        folders.append(folder)
        return folder
    }

    /// P (child of the root) with package `cyca`, and its child C with package `cycb`:
    /// `cyca` sets BEFORE, runs `crossing` (which must make `cycb` reachable as
    /// `cyca.cycb`), sets AFTER; `cycb` imports `cyca` and records what it saw.
    func makeCycle(crossing: String, childPrefix: String = "") throws -> (Loader, Loader) {
        let folder = try scratchFolder()
        let parentName = uniqueName("cyc-p"), childName = uniqueName("cyc-c")
        try makePackage(folder + "/p", "cyca", "import pyloader, time\nCHILD = \(pythonLiteral(childName))\nBEFORE = 1\n"
                        + crossing + "\nAFTER = 2")
        try makePackage(folder + "/c", "cycb", childPrefix + """

            import cyca
            SAW_BEFORE = cyca.BEFORE
            SAW_AFTER = getattr(cyca, 'AFTER', 'partial')
            """)
        let parent = try Loader.root.child(parentName, paths: [folder + "/p"])
        do {
            return (parent, try parent.child(childName, paths: [folder + "/c"]))
        } catch {
            try? parent.close()
            throw error
        }
    }

    func assertCycleCompleted(_ parent: Loader, _ child: Loader, line: UInt = #line) throws {
        XCTAssertEqual(try value(parent, "cyca.AFTER", as: Int.self), 2, line: line)
        XCTAssertEqual(try value(parent, "cyca.cycb.SAW_BEFORE", as: Int.self), 1, line: line)
        XCTAssertEqual(try value(parent, "cyca.cycb.SAW_AFTER", as: String.self), "partial", line: line)
        XCTAssertTrue(try child.eval("__import__('sys').modules['cyca']").isIdentical(to: try parent.eval("cyca")), line: line)
        XCTAssertTrue(try child.eval("__import__('cycb')").isIdentical(to: try parent.eval("cyca.cycb")), line: line)
        XCTAssertFalse(try value(parent, "'cycb' in __import__('sys').modules", as: Bool.self), line: line)
    }

    /// `folder/name/__init__.py` with `source`, making `folder` when needed.
    func makePackage(_ folder: String, _ name: String, _ source: String) throws {
        if access(folder, F_OK) != 0 { try makeFolder(folder) }
        try makeFolder(folder + "/" + name)
        try write(folder + "/" + name + "/__init__.py", source + "\n")
    }

    func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    /// Runs `body` where reading a mode-000 folder is denied: directly when not root;
    /// as root, on a helper thread whose own credentials are `nobody` (see above).
    func runDeniedReads<T>(_ body: @escaping @Sendable () -> T) throws -> T {
        guard geteuid() == 0 else { return body() }
        guard let setresuid = rawSetresuid() else {
            throw XCTSkip("running as root and the raw setresuid system call is unavailable: chmod 000 cannot deny reads")
        }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: T?
        nonisolated(unsafe) var switched = false
        Thread.detachNewThread {
            let nobody = 65_534
            if setresuid(nobody, nobody, 0) == 0 {
                switched = true
                outcome = body()
                _ = setresuid(0, 0, 0)
            }
            done.signal()
        }
        done.wait()
        guard switched, let outcome else {
            throw XCTSkip("running as root without CAP_SETUID: chmod 000 cannot deny reads to root")
        }
        return outcome
    }
}

/// `syscall(SYS_setresuid, r, e, s)` for the calling thread only. glibc's `syscall` is
/// variadic, which Swift cannot call: it is called through a fixed-arity pointer,
/// which the x86-64 and AArch64 Linux calling conventions make equivalent for
/// integer arguments.
private func rawSetresuid() -> (@Sendable (Int, Int, Int) -> Int)? {
    #if arch(x86_64)
    let number = 117
    #elseif arch(arm64)
    let number = 147
    #else
    return nil
    #endif
    guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "syscall") else { return nil }
    typealias Syscall = @convention(c) (Int, Int, Int, Int) -> Int
    let syscall = unsafeBitCast(symbol, to: Syscall.self)
    return { syscall(number, $0, $1, $2) }
}
