import CPython
import Foundation
import XCTest
@testable import PyLoader

/// Rows of the fault matrix (see `FaultMatrixTestCase`): Python code that tries to end the process, a thread or an interpreter.
final class FaultMatrixCodeTests: FaultMatrixTestCase {
    // MARK: - Code that tries to end things

    func testSysExitInRunMainGivesTheExitStatus() throws {
        let loader = try makeChild("exits")
        XCTAssertEqual(try loader.runMain(code: "import sys; sys.exit(3)"), 3)
        XCTAssertEqual(try loader.runMain(code: "import sys; sys.exit()"), 0)
        XCTAssertEqual(try loader.runMain(code: "raise SystemExit(None)"), 0)
        XCTAssertEqual(try loader.runMain(code: "import sys; sys.exit('bye')"), 1)
        XCTAssertEqual(try loader.runMain(path: "\(fixtures)/scripts/exit_code.py", arguments: ["7"]), 7)
        XCTAssertEqual(try Loader.root.runMain(code: "import sys; sys.exit(4)"), 4)
        XCTAssertEqual(try value(bystander, "__import__('pyloader').get('\(loader.name)').run_main(\(pythonLiteral("\(fixtures)/scripts/exit_code.py")), ['x', '9'])", as: Int.self), 9)
        XCTAssertEqual(try value(loader, "6 * 7", as: Int.self), 42)
        try assertHealthy()
    }

    func testSysExitInExecIsAPythonErrorNotAProcessExit() throws {
        let loader = try makeChild("exits-exec")
        XCTAssertThrowsError(try loader.exec("import sys\nsys.exit(4)")) { error in
            guard let error = error as? PythonError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.typeName, "SystemExit")
            XCTAssertEqual(error.loader, loader.name)
            XCTAssertEqual(try? error.exception.map { try Int(python: try $0.code) }, 4)
        }
        try assertPythonError("SystemExit", in: loader, "raise SystemExit(5)")
        // Crossing loaders, it stays the same exception object, catchable by the caller.
        try bystander.exec("""
            import pyloader
            try:
                pyloader.get('\(loader.name)').exec('import sys; sys.exit(6)')
            except SystemExit as e:
                exit_code = e.code
            """)
        XCTAssertEqual(try value(bystander, "exit_code", as: Int.self), 6)
        XCTAssertEqual(try value(loader, "6 * 7", as: Int.self), 42)
        try assertHealthy()
    }

    func testKeyboardInterruptIsAPythonError() throws {
        let loader = try makeChild("interrupt")
        try assertPythonError("KeyboardInterrupt", in: loader, "raise KeyboardInterrupt")
        XCTAssertEqual(try loader.runMain(code: "raise KeyboardInterrupt"), 130)
        try bystander.exec("""
            import pyloader
            try:
                pyloader.get('\(loader.name)').exec('raise KeyboardInterrupt')
            except KeyboardInterrupt:
                interrupted = True
            """)
        XCTAssertEqual(try value(bystander, "interrupted", as: Bool.self), true)
        XCTAssertEqual(try value(loader, "6 * 7", as: Int.self), 42)
        try assertHealthy()
    }

    func testRecursionErrorAtDepth() throws {
        let loader = try makeChild("recurse")
        try loader.exec("def down(n):\n    return down(n + 1)")
        try assertPythonError("RecursionError", in: loader, "down(0)")
        // Again: the recursion counter came back to zero.
        try assertPythonError("RecursionError", in: loader, "down(0)")
        // Deep but legal recursion still works afterwards.
        try loader.exec("def sum_to(n):\n    return 0 if n == 0 else n + sum_to(n - 1)")
        XCTAssertEqual(try value(loader, "sum_to(500)", as: Int.self), 125_250)
        // Recursion that crosses a loader boundary on each level (Swift frames between).
        try loader.exec("import pyloader\nSELF = pyloader.current()\ndef cross(n):\n    return SELF.eval(f'cross({n + 1})')")
        try assertPythonError("RecursionError", in: loader, "cross(0)")
        XCTAssertEqual(try value(loader, "6 * 7", as: Int.self), 42)
        try assertHealthy()
    }

    /// The depth a loader's code sees after a crossing (`pyl_InheritRecursionBudget`): on
    /// 3.12+ its own, so `sys.setrecursionlimit(100)` works in a loader called from code 150
    /// frames deep, as in a fresh interpreter (sqlparse's test_max_recursion needs it under
    /// `pyloader test`); on 3.11 the one counter, which also guards the C stack, is carried,
    /// and the callee sees the caller's depth as its own.
    func testTheDepthALoaderSeesAfterACrossing() throws {
        let callee = try makeChild("depth-callee")
        let caller = try makeChild("depth-caller")
        try caller.exec("""
            import pyloader
            _callee = pyloader.get(\(pythonLiteral(callee.name)))
            def deep(n):
                if n:
                    return deep(n - 1)
                return _callee.eval("__import__('sys').setrecursionlimit(100) or "
                                    "__import__('sys').setrecursionlimit(1000) or 'set'")
            """)
        if PythonVersion.hex >= 0x030C_0000 {
            XCTAssertEqual(try value(caller, "deep(150)", as: String.self), "set")
        } else {
            try assertPythonError("RecursionError", in: caller, "deep(150)", containing: "cannot set the recursion limit")
        }
        XCTAssertEqual(try value(callee, "__import__('sys').getrecursionlimit()", as: Int.self), 1000)
        // Entered from Swift, outside every loader, a loader starts at a fresh interpreter's
        // depth: no crossing to pay for (3.11 charged one, 20 levels, before).
        XCTAssertEqual(try value(callee, "__import__('sys').setrecursionlimit(8) or "
                                 + "__import__('sys').setrecursionlimit(1000) or 'set'", as: String.self), "set")
        try assertHealthy()
    }

    /// Each (thread, loader) thread state has its own recursion counter in CPython
    /// 3.11, so recursion that goes round a ring of loaders got `recursion_limit` levels
    /// per loader before 650f4f6: 16 loaders overflowed the 8 MB main-thread stack
    /// (SIGSEGV) long before any RecursionError (two loaders, a 1 MB thread stack).
    /// Runs in a child process.
    func testRecursionAcrossARingOfLoadersRaisesRecursionError() throws {
        try assertScenarioSucceeds("ring-recursion")
        try assertHealthy()
    }

    /// Needs ASAN_OPTIONS=allocator_may_return_null=1 under AddressSanitizer, which
    /// otherwise reports the (deliberately) impossible allocation as an error.
    func testMemoryErrorFromAHugeAllocation() throws {
        let loader = try makeChild("hungry")
        try assertPythonError("MemoryError", in: loader, "bytearray(1 << 60)")
        try assertPythonError("MemoryError", in: loader, "b'x' * (1 << 60)")
        try assertPythonError("MemoryError", in: bystander,
                              "__import__('pyloader').get('\(loader.name)').eval('[0] * (1 << 60)')")
        XCTAssertEqual(try value(loader, "len(bytearray(1 << 20))", as: Int.self), 1 << 20)
        try assertHealthy()
    }

    /// `os._exit` ends the whole process by design (README says so): checked in a
    /// subprocess of the CLI, never in the test process.
    func testOsExitEndsTheProcessByDesign() throws {
        guard let cli = cliExecutable() else {
            throw XCTSkip("the pyloader CLI is not built next to the test bundle (set PYLOADER_EXECUTABLE)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cli)
        process.arguments = ["run", "-c", "import os, pyloader\npyloader.root().child('doomed')\nos._exit(3)"]
        process.currentDirectoryURL = URL(fileURLWithPath: try scratchFolder())
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 3)
        try assertHealthy()
    }
}
