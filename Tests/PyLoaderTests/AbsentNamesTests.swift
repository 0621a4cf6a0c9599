import Foundation
import XCTest
@testable import PyLoader

/// The parent-first question's shortcut (AbsentNames.swift): a parent's "I do not have `T`"
/// is kept only while its finders would still say so, as CPython's FileFinder keeps a
/// folder's listing.
final class AbsentNamesTests: LoaderTestCase {
    /// On the parent's paths; empty at first.
    private var parentFolder: String!
    /// The children's own modules.
    private var ownFolder: String!
    private var parent: Loader!

    override func setUpWithError() throws {
        try super.setUpWithError()
        parentFolder = try temporaryFolder()
        ownFolder = try temporaryFolder()
        for name in ["own_a", "own_b", "own_c"] {
            try write(ownFolder + "/\(name).py", "WHOSE = 'child'\n")
        }
        parent = try makeChild("an-parent", paths: [parentFolder])
        // Counts the calls of the parent's finder for its folder, leaving it a FileFinder.
        try parent.exec("""
            import importlib, os, sys
            def _spy_on(path):
                finder = sys.path_importer_cache[path]
                calls, original = [], finder.find_spec
                def find_spec(name, target=None):
                    calls.append(name)
                    return original(name, target)
                finder.find_spec = find_spec
                return calls
            """)
    }

    /// A fresh parent-first child of `parent` that imports `name` and says where it came from.
    private func importInFreshChild(_ name: String) throws -> String {
        let child = try makeChild("an-child", of: parent, paths: [ownFolder])
        defer { try? child.close() }
        try child.exec("import \(name)")
        return try value(child, "\(name).WHOSE", as: String.self)
    }

    func testTheParentsFindersRunOnceForANameItDoesNotHave() throws {
        XCTAssertEqual(try importInFreshChild("own_a"), "child")
        try parent.exec("_calls = _spy_on(\(pythonLiteral(parentFolder)))")
        XCTAssertEqual(try importInFreshChild("own_a"), "child")
        XCTAssertEqual(try importInFreshChild("own_a"), "child")
        XCTAssertEqual(try value(parent, "_calls", as: [String].self), [])
        // A name not asked about before is searched.
        XCTAssertEqual(try importInFreshChild("own_b"), "child")
        XCTAssertEqual(try value(parent, "_calls", as: [String].self), ["own_b"])
        XCTAssertTrue(try parent.withActivated { parent.absentNames.contains("own_a") })
    }

    /// Writes `own_a.py` into the parent's folder and sets the folder's modification time
    /// back: neither FileFinder nor the shortcut can tell by the folder that it changed.
    private func addOwnAToTheParentsFolderKeepingItsTime() throws {
        try parent.exec("""
            _before = os.stat(\(pythonLiteral(parentFolder))).st_mtime_ns
            with open(os.path.join(\(pythonLiteral(parentFolder)), 'own_a.py'), 'w') as f:
                f.write("WHOSE = 'parent'\\n")
            os.utime(\(pythonLiteral(parentFolder)), ns=(_before, _before))
            """)
    }

    func testAFileAddedToTheParentsFolderIsSeen() throws {
        XCTAssertEqual(try importInFreshChild("own_a"), "child")
        try write(parentFolder + "/own_a.py", "WHOSE = 'parent'\n")
        XCTAssertEqual(try importInFreshChild("own_a"), "parent")
    }

    /// A file whose folder keeps its modification time is missed by FileFinder too, until
    /// `importlib.invalidate_caches()`; after it, by the shortcut neither.
    func testInvalidateCachesIsHonoured() throws {
        XCTAssertEqual(try importInFreshChild("own_a"), "child")
        try addOwnAToTheParentsFolderKeepingItsTime()
        XCTAssertEqual(try importInFreshChild("own_a"), "child")
        try parent.exec("importlib.invalidate_caches()")
        XCTAssertEqual(try importInFreshChild("own_a"), "parent")
    }

    /// `FileFinder.invalidate_caches()` alone (no new reading of the folder yet: the same
    /// listing, the same folder time) makes the next search read the folder again: so does
    /// the shortcut.
    func testAFinderAskedToReadItsFolderAgainIsHonoured() throws {
        XCTAssertEqual(try importInFreshChild("own_a"), "child")
        try addOwnAToTheParentsFolderKeepingItsTime()
        try parent.exec("sys.path_importer_cache[\(pythonLiteral(parentFolder))].invalidate_caches()")
        XCTAssertEqual(try importInFreshChild("own_a"), "parent")
    }

    /// A listing that names the module's file (here a link to nothing yet) is checked by
    /// FileFinder on every search, with no change to the folder: no "not found" is kept.
    func testAnEntryTheFindersCheckEachTimeKeepsNothing() throws {
        let target = try temporaryFolder() + "/own_b.py"
        XCTAssertEqual(symlink(target, parentFolder + "/own_b.py"), 0)
        XCTAssertEqual(try importInFreshChild("own_b"), "child")
        XCTAssertFalse(try parent.withActivated { parent.absentNames.contains("own_b") })
        try write(target, "WHOSE = 'parent'\n")
        XCTAssertEqual(try importInFreshChild("own_b"), "parent")
    }

    func testAFolderAddedToTheParentsPathIsSearched() throws {
        XCTAssertEqual(try importInFreshChild("own_c"), "child")
        let later = try temporaryFolder()
        try write(later + "/own_c.py", "WHOSE = 'parent'\n")
        try parent.exec("sys.path.append(\(pythonLiteral(later)))")
        XCTAssertEqual(try importInFreshChild("own_c"), "parent")
    }

    /// A finder of the user's may answer differently each time: it is asked every time.
    func testAUserFinderOnTheParentIsAskedEveryTime() throws {
        try parent.exec("""
            class _Counting:
                asked = []
                @classmethod
                def find_spec(cls, name, path=None, target=None):
                    cls.asked.append(name)
                    return None
            sys.meta_path.append(_Counting)
            """)
        XCTAssertEqual(try importInFreshChild("own_a"), "child")
        XCTAssertEqual(try importInFreshChild("own_a"), "child")
        XCTAssertEqual(try value(parent, "_Counting.asked.count('own_a')", as: Int.self), 2)
        XCTAssertFalse(try parent.withActivated { parent.absentNames.contains("own_a") })
    }
}
