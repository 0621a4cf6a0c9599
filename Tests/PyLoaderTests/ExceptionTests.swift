import XCTest
@testable import PyLoader

final class ExceptionTests: LoaderTestCase {
    func testPythonExceptionInAChildSurfacesAsPythonError() throws {
        let child = try makeChild("errs")
        try child.exec("def explode(n):\n    raise ValueError(f'bad value {n}')")
        XCTAssertThrowsError(try child.eval("explode(3)")) { error in
            guard let error = error as? PythonError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.typeName, "ValueError")
            XCTAssertEqual(error.message, "bad value 3")
            XCTAssertEqual(error.loader, child.name)
            XCTAssertTrue(error.traceback.contains("Traceback (most recent call last)"), error.traceback)
            XCTAssertTrue(error.traceback.contains("in explode"), error.traceback)
            XCTAssertTrue(error.traceback.hasSuffix("ValueError: bad value 3\n"), error.traceback)
            XCTAssertEqual(error.exception?.typeName, "ValueError")
        }
    }

    func testExceptionFromAnotherLoaderIsTheSameObjectInPython() throws {
        let a = try makeChild("same-a")
        let caller = try makeChild("same-b")
        try caller.exec("""
            import pyloader
            try:
                pyloader.get('\(a.name)').exec("import builtins\\ntry:\\n    raise ValueError(1)\\nexcept ValueError as e:\\n    builtins.last_error = e\\n    raise")
            except ValueError as e:
                caught = e
            """)
        XCTAssertTrue(try caller.eval("caught.args == (1,)").isTruthy())
        XCTAssertTrue(try caller.eval("caught.__traceback__ is not None").isTruthy())
        let caught = try caller.eval("caught")
        let raised = try a.eval("__import__('builtins').last_error")
        XCTAssertTrue(try caught.isIdentical(to: raised), "the caller got a different exception object")
        try a.exec("del __import__('builtins').last_error")
    }

    func testSyntaxErrorIsAPythonError() throws {
        let child = try makeChild("syntax")
        XCTAssertThrowsError(try child.exec("def (")) { error in
            XCTAssertEqual((error as? PythonError)?.typeName, "SyntaxError")
        }
    }
}

