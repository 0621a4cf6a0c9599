import XCTest
@testable import PyLoader

/// The delegated-import fast path (`Resolver.handOver`): a module the parent already holds
/// reaches a parent-first child without importlib's finder search, and everything a
/// delegation guarantees still holds. A spy finder first on the child's `sys.meta_path`
/// shows which imports went through the finders.
final class HandOverTests: LoaderTestCase {
    private var parent: Loader!

    override func setUpWithError() throws {
        try super.setUpWithError()
        let folder = try temporaryFolder()
        try makeFolder(folder + "/heldpkg")
        try write(folder + "/heldpkg/__init__.py", "VALUE = 1\n")
        try write(folder + "/heldpkg/sub.py", "X = 2\n")
        try write(folder + "/heldpkg/later.py", "Y = 3\n")
        try write(folder + "/notheld.py", "Z = 4\n")
        parent = try makeChild("ho-parent", paths: [folder])
        try parent.exec("import heldpkg.sub")
    }

    private func child(_ delegation: Delegation = .parentFirst) throws -> Loader {
        let child = try makeChild("ho-child", of: parent, delegation: delegation)
        try child.exec("""
            import sys
            class _Spy:
                seen = []
                @classmethod
                def find_spec(cls, name, path=None, target=None):
                    cls.seen.append(name)
                    return None
            sys.meta_path.insert(0, _Spy)
            """)
        return child
    }

    func testAHeldModuleAndSubmoduleAreHandedOverWithoutTheFinders() throws {
        let child = try child()
        try child.exec("import heldpkg.sub")
        XCTAssertEqual(try value(child, "_Spy.seen", as: [String].self), [])
        let held = try parent.eval("__import__('sys').modules")
        XCTAssertTrue(try child.eval("heldpkg").isIdentical(to: held["heldpkg"]))
        XCTAssertTrue(try child.eval("heldpkg.sub").isIdentical(to: held["heldpkg.sub"]))
        // The defining loader's module is untouched: its own spec and loader.
        XCTAssertEqual(try value(child, "type(heldpkg.__spec__.loader).__name__", as: String.self), "SourceFileLoader")
        XCTAssertTrue(try child.eval("heldpkg.__spec__").isIdentical(to: try parent.eval("heldpkg.__spec__")))
        XCTAssertTrue(try child.which("heldpkg") === parent)
    }

    func testWhatTheParentDoesNotHoldGoesThroughTheFinders() throws {
        let child = try child()
        try child.exec("import notheld, heldpkg.later")
        // `heldpkg` itself is handed over; its submodule the parent has not imported is not.
        XCTAssertEqual(try value(child, "sorted(_Spy.seen)", as: [String].self), ["heldpkg.later", "notheld"])
        // Still delegated, by the finder path.
        XCTAssertTrue(try child.eval("notheld").isIdentical(to: try parent.eval("__import__('notheld')")))
        XCTAssertTrue(try child.eval("heldpkg.later").isIdentical(to: try parent.eval("__import__('heldpkg.later').later")))
    }

    func testAChildFirstChildSearchesItsOwnPathsFirst() throws {
        let child = try child(.childFirst)
        try child.exec("import heldpkg")
        // The child's own paths are searched (its finders, the spy among them), then the import.
        XCTAssertTrue(try value(child, "'heldpkg' in _Spy.seen", as: Bool.self))
        XCTAssertTrue(try child.eval("heldpkg").isIdentical(to: try parent.eval("heldpkg")))
    }

    /// The fast path records the delegation: a reload is refused in the child, and closing
    /// the child leaves the parent's module whole.
    func testAHandedOverModuleIsDelegatedForReloadAndClose() throws {
        let child = try child()
        try child.exec("import heldpkg, importlib")
        XCTAssertThrowsError(try child.exec("importlib.reload(heldpkg)")) { error in
            XCTAssertTrue((error as? PythonError)?.message.contains("delegated to loader 'ho-parent") ?? false, "\(error)")
        }
        try child.close()
        XCTAssertEqual(try value(parent, "heldpkg.VALUE + heldpkg.sub.X", as: Int.self), 3)
    }

    /// A None in the child's sys.modules blocks the import (as in plain CPython), also for a
    /// module the parent holds: the fast path must not replace it.
    func testABlockedImportStaysBlocked() throws {
        let child = try child()
        try child.exec("sys.modules['heldpkg'] = None")
        XCTAssertThrowsError(try child.exec("import heldpkg")) { error in
            XCTAssertTrue((error as? PythonError)?.isInstance(of: "ImportError") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try child.exec("import importlib; importlib.import_module('heldpkg')"))
        XCTAssertTrue(try child.eval("sys.modules['heldpkg'] is None").isTruthy())
    }

    /// Step 1: a module the child already holds as its own stays its own when the parent
    /// imports one of the same name later (importlib.import_module reaches _find_and_load
    /// even for a name in sys.modules).
    func testAModuleOfTheChildsOwnIsNotReplaced() throws {
        let own = try temporaryFolder()
        try write(own + "/latecomer.py", "WHOSE = 'child'\n")
        let theirs = try temporaryFolder()
        try write(theirs + "/latecomer.py", "WHOSE = 'parent'\n")
        let parent = try makeChild("ho-late-parent")
        let child = try makeChild("ho-late-child", of: parent, paths: [own])
        try child.exec("import latecomer")
        XCTAssertEqual(try value(child, "latecomer.WHOSE", as: String.self), "child")
        try parent.exec("import sys; sys.path.append(\(pythonLiteral(theirs))); import latecomer")
        try child.exec("import importlib; _again = importlib.import_module('latecomer')")
        XCTAssertEqual(try value(child, "_again.WHOSE", as: String.self), "child")
        XCTAssertTrue(try child.eval("_again is latecomer").isTruthy())
        XCTAssertTrue(try child.which("latecomer") === child)
    }
}
