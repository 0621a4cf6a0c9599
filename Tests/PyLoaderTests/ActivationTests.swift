import Foundation
import XCTest
import CPyLoader
@testable import PyLoader

final class ActivationTests: LoaderTestCase {
    /// The thread state current on this thread inside `loader` (read with the GIL held).
    private func currentThreadState(in loader: Loader) throws -> ThreadStatePointer? {
        try loader.withActivated { pyl_CurrentThreadState() }
    }

    /// What `assertHoldingGIL()` checks: a thread holds the GIL inside an activation (and
    /// inside a nested one, and in a Python-to-Swift call), and not outside.
    func testTheGILCheckKnowsWhenTheGILIsHeld() throws {
        let child = try makeChild("gilcheck")
        XCTAssertFalse(ThreadRecord.callerHoldsGIL)
        try child.withActivated {
            XCTAssertTrue(ThreadRecord.callerHoldsGIL)
            try Loader.root.withActivated { XCTAssertTrue(ThreadRecord.callerHoldsGIL) }
            XCTAssertTrue(ThreadRecord.callerHoldsGIL)
        }
        XCTAssertFalse(ThreadRecord.callerHoldsGIL)
        let other = DispatchQueue(label: "gilcheck")
        XCTAssertFalse(other.sync { ThreadRecord.callerHoldsGIL })
    }

    func testNestedCrossingsRestoreExactlyThePreviousThreadState() throws {
        let a = try makeChild("act-a")
        let b = try makeChild("act-b")
        try a.withActivated {
            let before = pyl_CurrentThreadState()
            XCTAssertEqual(before?.pointee.interp, a.interpreter)
            // Swift → A → Python code calling into B → back in A.
            let seen = try a.eval("__import__('pyloader').get('\(b.name)').eval('__import__(\"pyloader\").current().name')")
            XCTAssertEqual(String(seen), b.name)
            XCTAssertEqual(pyl_CurrentThreadState(), before)
            // Swift → A → Swift → B → Swift → root → back.
            try b.withActivated {
                XCTAssertEqual(pyl_CurrentThreadState()?.pointee.interp, b.interpreter)
                try Loader.root.withActivated {
                    XCTAssertEqual(pyl_CurrentThreadState()?.pointee.interp, Runtime.mainInterpreter)
                }
                XCTAssertEqual(pyl_CurrentThreadState()?.pointee.interp, b.interpreter)
            }
            XCTAssertEqual(pyl_CurrentThreadState(), before)
        }
        // Outside every activation the thread holds no GIL.
        XCTAssertEqual(ThreadRecord.current.gilDepth, 0)
    }

    func testAnExceptionFromTheInnermostLevelRestoresEveryLevel() throws {
        let a = try makeChild("exc-a")
        let b = try makeChild("exc-b")
        try b.exec("def fail():\n    raise KeyError('deep')")
        try a.withActivated {
            let before = pyl_CurrentThreadState()
            XCTAssertThrowsError(try a.exec("""
                import pyloader
                pyloader.get('\(b.name)').eval('fail()')
                """)) { error in
                XCTAssertEqual((error as? PythonError)?.typeName, "KeyError")
            }
            XCTAssertEqual(pyl_CurrentThreadState(), before)
            XCTAssertNil(PyErr_Occurred(), "an exception was left pending")
            XCTAssertThrowsError(try b.withActivated { throw LoaderError.invalidArgument("thrown inside") })
            XCTAssertEqual(pyl_CurrentThreadState(), before)
        }
        XCTAssertEqual(ThreadRecord.current.gilDepth, 0)
        XCTAssertEqual(try value(a, "1 + 1", as: Int.self), 2)
    }

    func testPythonSeesTheCalleeAsCurrentInsideACrossing() throws {
        let a = try makeChild("cur-a")
        let b = try makeChild("cur-b")
        let names = try value(a, """
            [__import__('pyloader').current().name,
             __import__('pyloader').get('\(b.name)').eval("__import__('pyloader').current().name"),
             __import__('pyloader').current().name]
            """, as: [String].self)
        XCTAssertEqual(names, [a.name, b.name, a.name])
    }
}
