import CPython
import Foundation
import XCTest
@testable import PyLoader

/// Rows of the fault matrix (see `FaultMatrixTestCase`): bad loader names and paths.
final class FaultMatrixNameAndPathTests: FaultMatrixTestCase {
    // MARK: - Names

    func testEmptyNameIsInvalidName() throws {
        try assertLoaderError(.invalidName("", reason: "empty")) { _ = try Loader.root.child("") }
        try assertPythonError("ValueError", in: bystander, "__import__('pyloader').root().child('')")
        try assertHealthy()
    }

    func testNameWithInvalidCharactersIsInvalidName() throws {
        for bad in ["a b", "-lead", ".lead", "_lead", "a/b", "a:b", "tab\there", "new\nline", "é", "naïve", "a\u{0}b", "😀"] {
            try assertLoaderError(.invalidName(bad, reason: "must match [A-Za-z0-9][A-Za-z0-9_.-]*")) {
                _ = try Loader.root.child(bad)
            }
            XCTAssertNil(Loader.named(bad))
        }
        try assertPythonError("ValueError", in: bystander, "__import__('pyloader').root().child('a b')")
        // A non-str name: PyLoader maps every bad argument to ValueError (Python would say TypeError).
        try assertPythonError("ValueError", in: bystander, "__import__('pyloader').root().child(7)", containing: "must be a str")
        try assertHealthy()
    }

    func testDuplicateNameIsRefusedEvenUnderAnotherParent() throws {
        let first = try makeChild("dup")
        try assertLoaderError(.duplicateName(first.name)) { _ = try Loader.root.child(first.name) }
        try assertLoaderError(.duplicateName(first.name)) { _ = try self.bystander.child(first.name) }
        try assertLoaderError(.duplicateName(bystander.name)) { _ = try first.child(self.bystander.name) }
        try assertPythonError("ValueError", in: bystander, "__import__('pyloader').root().child('\(first.name)')")
        // The refused attempts left nothing behind: the name is free once its owner closes.
        XCTAssertEqual(try Loader.root.children.filter { $0.name == first.name }.count, 1)
        try first.close()
        let reused = try Loader.root.child(first.name)
        XCTAssertEqual(try value(reused, "1 + 1", as: Int.self), 2)
        try reused.close()
        try assertHealthy()
    }

    func testRootIsAReservedName() throws {
        try assertLoaderError(.invalidName("root", reason: "'root' is reserved for the root loader")) {
            _ = try Loader.root.child("root")
        }
        try assertLoaderError(.invalidName("root", reason: "'root' is reserved for the root loader")) {
            _ = try self.bystander.child("root")
        }
        try assertPythonError("ValueError", in: bystander, "__import__('pyloader').current().child('root')")
        try assertHealthy()
    }

    // MARK: - Paths

    func testMissingPathIsInvalidPath() throws {
        let name = uniqueName("missing")
        try assertLoaderError(.invalidPath("/no/such/folder/anywhere", reason: "no such folder")) {
            _ = try Loader.root.child(name, paths: ["/no/such/folder/anywhere"])
        }
        try assertLoaderError(.invalidPath("", reason: "empty")) { _ = try Loader.root.child(name, paths: [""]) }
        try assertNothingMade(named: name)
        try assertPythonError("ValueError", in: bystander,
                              "__import__('pyloader').root().child('\(name)', paths=['/no/such/folder/anywhere'])")
        try assertHealthy()
    }

    func testFileInsteadOfFolderIsInvalidPath() throws {
        let name = uniqueName("file")
        let file = "\(fixtures)/demo/pyloader.toml"
        try assertLoaderError(.invalidPath(file, reason: "not a folder")) {
            _ = try Loader.root.child(name, paths: ["\(fixtures)/demo/host", file])
        }
        try assertNothingMade(named: name)
        try assertHealthy()
    }

    /// chmod 000 does not deny reads to root (CAP_DAC_OVERRIDE), and the tests run as
    /// root in CI. So when the effective user is root, the check runs on a helper thread
    /// whose own credentials are switched to `nobody` with the raw `setresuid` system
    /// call (Linux credentials are per thread; glibc's wrapper would switch every
    /// thread). The saved user id stays 0, so the thread can switch back. Skipped, with
    /// the reason, when even that is not possible (no CAP_SETUID).
    func testUnreadablePathIsInvalidPath() throws {
        let folder = try scratchFolder()
        let locked = folder + "/locked"
        try makeFolder(locked)
        XCTAssertEqual(chmod(locked, 0o000), 0)
        let name = uniqueName("unreadable")
        let result = try runDeniedReads { Result { _ = try Loader.root.child(name, paths: [locked]) } }
        guard case .failure(let error) = result else { return XCTFail("an unreadable folder was accepted") }
        XCTAssertEqual(error as? LoaderError, .invalidPath(locked, reason: "not readable"))
        try assertNothingMade(named: name)
        try assertHealthy()
    }
}
