import XCTest
@testable import PyLoader

final class PythonObjectTests: LoaderTestCase {
    func testConversionsRoundTrip() throws {
        let child = try makeChild("conv")
        let identity = try child.eval("lambda x: x")
        XCTAssertEqual(try Int(python: identity(42)), 42)
        XCTAssertEqual(try Int(python: identity(Int.min)), Int.min)
        XCTAssertEqual(try Double(python: identity(2.5)), 2.5)
        XCTAssertEqual(try Bool(python: identity(true)), true)
        XCTAssertEqual(try String(python: identity("héllo ✓")), "héllo ✓")
        XCTAssertEqual(try [Int](python: identity([1, 2, 3])), [1, 2, 3])
        XCTAssertEqual(try [String: Int](python: identity(["a": 1, "b": 2])), ["a": 1, "b": 2])
        XCTAssertEqual(try [String: [Int]](python: identity(["xs": [1, 2]])), ["xs": [1, 2]])
        XCTAssertEqual(try Int?(python: identity(Int?.none)), nil)
        XCTAssertTrue(try identity(PythonNone()).isNone)
        XCTAssertEqual(try Int?(python: identity(Int?.some(5))), 5)
        XCTAssertEqual(try value(child, "(1, 2)", as: [Int].self), [1, 2])
    }

    /// A type of the user's own converts by building on the conversions that exist, through
    /// the public `PythonReference` (no CPython pointer in the API).
    func testAUserTypeConvertsThroughPythonReference() throws {
        struct Point: PythonConvertible {
            let x: Int, y: Int
            func makePythonReference() throws -> PythonReference { try ["x": x, "y": y].makePythonReference() }
        }
        let child = try makeChild("userconv")
        let describe = try child.eval("lambda p: f\"{p['x']},{p['y']} {type(p).__name__}\"")
        XCTAssertEqual(try String(python: describe(Point(x: 3, y: -4))), "3,-4 dict")
        let list = try child.eval("lambda items: [type(i).__name__ for i in items]")
        XCTAssertEqual(try [String](python: list.call([[Point(x: 1, y: 2)] as [Point]])), ["dict"])
    }

    func testWrongConversionsThrowTypeErrors() throws {
        let child = try makeChild("conv-bad")
        for (expression, attempt) in [("'text'", { (o: PythonObject) in _ = try Int(python: o) }),
                                      ("1", { (o: PythonObject) in _ = try String(python: o) }),
                                      ("True", { (o: PythonObject) in _ = try Int(python: o) }),
                                      ("[1, 'x']", { (o: PythonObject) in _ = try [Int](python: o) })] {
            XCTAssertThrowsError(try attempt(try child.eval(expression))) { error in
                XCTAssertEqual((error as? PythonError)?.typeName, "TypeError", expression)
            }
        }
        XCTAssertThrowsError(try Int(python: try child.eval("2 ** 100"))) { error in
            XCTAssertEqual((error as? PythonError)?.typeName, "OverflowError")
        }
        XCTAssertNil(Int(try child.eval("'x'")))
    }

    func testDynamicMembersCallsAndItems() throws {
        let json = try (try Loader.root).importModule("json")
        let text = try json.dumps(["k": [1, 2]], sort_keys: true)
        XCTAssertEqual(String(text), "{\"k\": [1, 2]}")
        let parsed = try json.loads(text)
        XCTAssertEqual(try Int(python: parsed["k"][1]), 2)
        try parsed.setItem("new", "value")
        XCTAssertEqual(String(try parsed["new"]), "value")
        XCTAssertThrowsError(try json.no_such_attribute) { error in
            XCTAssertEqual((error as? PythonError)?.typeName, "AttributeError")
        }
        XCTAssertThrowsError(try parsed["missing"]) { error in
            XCTAssertEqual((error as? PythonError)?.typeName, "KeyError")
        }
        XCTAssertEqual(parsed.description, "{'k': [1, 2], 'new': 'value'}")
    }

    func testHandlesOfAClosedLoaderThrowInsteadOfCrashing() throws {
        let child = try makeChild("dead")
        let list = try child.eval("[1, 2]")
        let function = try child.eval("len")
        try child.close()
        XCTAssertThrowsError(try function(list)) { error in
            XCTAssertEqual(error as? LoaderError, .closed(loader: child.name))
        }
        XCTAssertTrue(list.description.contains("released"))
        XCTAssertFalse(list.isNone)
    }

    func testObjectsOfOneLoaderCanBePassedToAnother() throws {
        let a = try makeChild("pass-a")
        let b = try makeChild("pass-b")
        let data = try a.eval("{'n': 3}")
        let getter = try b.eval("lambda d: d['n'] * 2")
        XCTAssertEqual(try Int(python: getter(data)), 6)
    }
}
