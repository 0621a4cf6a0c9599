import XCTest
@testable import PyLoader

final class LifecycleTests: LoaderTestCase {
    func testCloseWithLiveChildrenClosesThemDeepestFirst() throws {
        let parent = try makeChild("life-p")
        let child = try makeChild("life-c", of: parent)
        let grandchild = try makeChild("life-g", of: child)
        // Each loader's atexit callbacks run as it closes: record the order in the root.
        try Loader.root.exec("closing_order = []")
        for loader in [parent, child, grandchild] {
            try loader.exec("""
                import atexit, pyloader
                atexit.register(lambda: pyloader.root().eval("closing_order.append('\(loader.name)')"))
                """)
        }
        try parent.close()
        XCTAssertTrue(parent.isClosed && child.isClosed && grandchild.isClosed)
        XCTAssertEqual(try value(try Loader.root, "closing_order", as: [String].self),
                       [grandchild.name, child.name, parent.name])
        XCTAssertFalse(try Loader.root.children.contains { $0 === parent })
        XCTAssertNil(Loader.named(child.name))
    }

    func testUseAfterCloseThrowsClosed() throws {
        let child = try makeChild("after")
        let handle = try child.eval("[1, 2, 3]")
        try child.close()
        for attempt in [{ try child.exec("pass") }, { _ = try child.eval("1") },
                        { _ = try child.importModule("json") }, { _ = try child.child(uniqueName("x")) },
                        { _ = try handle.attribute("append") }, { _ = try [Int](python: handle) }] {
            XCTAssertThrowsError(try attempt()) { error in
                XCTAssertEqual(error as? LoaderError, .closed(loader: child.name))
            }
        }
        XCTAssertNoThrow(try child.close(), "closing twice is a no-op")
    }

    func testClosedLoaderRaisesLoaderClosedErrorInPython() throws {
        let child = try makeChild("pyclosed")
        let caller = try makeChild("pycaller")
        try caller.exec("import pyloader\nother = pyloader.get('\(child.name)')")
        try child.close()
        XCTAssertTrue(try caller.eval("other.closed").isTruthy())
        for call in ["other.eval('1')", "other.exec('pass')", "other.name", "other.import_module('json')"] {
            try caller.exec("""
                try:
                    \(call)
                    outcome = 'no error'
                except pyloader.LoaderClosedError as e:
                    outcome = 'closed: ' + str(e)
                """)
            XCTAssertEqual(try value(caller, "outcome", as: String.self), "closed: loader '\(child.name)' is closed", call)
        }
        XCTAssertTrue(try caller.eval("issubclass(pyloader.LoaderClosedError, RuntimeError)").isTruthy())
        XCTAssertTrue(try caller.eval("'closed' in repr(other)").isTruthy())
    }

    func testClosingFromInsideIsRefusedWithoutACrash() throws {
        let parent = try makeChild("inside")
        let child = try makeChild("inside-c", of: parent)
        try parent.exec("import pyloader")
        XCTAssertThrowsError(try parent.exec("pyloader.current().close()")) { error in
            XCTAssertEqual((error as? PythonError)?.typeName, "RuntimeError")
        }
        // From a descendant: closing the parent would end the interpreter running the call.
        XCTAssertThrowsError(try child.exec("import pyloader\npyloader.current().parent.close()")) { error in
            XCTAssertTrue("\(error)".contains("cannot close loader '\(parent.name)'"), "\(error)")
        }
        // From Swift code running inside the loader.
        try parent.withActivated {
            XCTAssertThrowsError(try parent.close()) { error in
                XCTAssertEqual(error as? LoaderError, .closingFromInside(loader: parent.name, caller: parent.name))
            }
        }
        XCTAssertFalse(parent.isClosed)
        XCTAssertEqual(try value(parent, "6 * 7", as: Int.self), 42)
        // A sibling may close it.
        let sibling = try makeChild("closer")
        try sibling.exec("import pyloader\npyloader.get('\(parent.name)').close()")
        XCTAssertTrue(parent.isClosed && child.isClosed)
    }

    func testRootCannotBeClosed() throws {
        XCTAssertThrowsError(try Loader.root.close()) { error in
            XCTAssertEqual(error as? LoaderError, .cannotCloseRoot)
        }
        XCTAssertThrowsError(try Loader.root.exec("__import__('pyloader').root().close()")) { error in
            XCTAssertEqual((error as? PythonError)?.typeName, "RuntimeError")
        }
    }

    func testTwoHundredCreateCloseCyclesKeepTheProcessHealthy() throws {
        let root = try Loader.root
        for cycle in 0..<200 {
            let child = try root.child(uniqueName("cycle"))
            if cycle % 10 == 0 {
                XCTAssertEqual(try value(child, "__import__('json').dumps([\(cycle)])", as: String.self), "[\(cycle)]")
            }
            try child.close()
        }
        XCTAssertEqual(try value(root, "len(__import__('pyloader').loaders()) >= 1", as: Bool.self), true)
        let survivor = try makeChild("survivor")
        XCTAssertEqual(try value(survivor, "sum(range(10))", as: Int.self), 45)
    }
}
