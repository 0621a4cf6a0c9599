import XCTest
@testable import PyLoader

final class LoaderTests: LoaderTestCase {
    func testRootIsTheMainInterpreterNamedRoot() throws {
        let root = try Loader.root
        XCTAssertEqual(root.name, "root")
        XCTAssertNil(root.parent)
        XCTAssertFalse(root.isClosed)
        XCTAssertEqual(try value(root, "__import__('pyloader').current().name", as: String.self), "root")
        XCTAssertTrue(try root.eval("__import__('sys').modules['__main__'].__name__ == '__main__'").isTruthy())
    }

    func testGlobalsModulesAndPathsAreIsolatedBetweenSiblingsAndRoot() throws {
        let a = try makeChild("iso-a", paths: ["\(fixtures)/delegation/child"])
        let b = try makeChild("iso-b", paths: ["\(fixtures)/delegation/parent"])
        try a.exec("import sys\nSECRET = 42\nsys.modules['only_in_a'] = sys\nsys.path.append('/only/in/a')")
        XCTAssertEqual(try value(a, "SECRET", as: Int.self), 42)
        for other in [b, try Loader.root] {
            XCTAssertFalse(try other.eval("'SECRET' in globals()").isTruthy(), "global leaked into \(other.name)")
            XCTAssertFalse(try other.eval("'only_in_a' in __import__('sys').modules").isTruthy())
            XCTAssertFalse(try other.eval("'/only/in/a' in __import__('sys').path").isTruthy())
        }
        // Each child sees the standard library plus its own paths, nothing else.
        let stdlib = Runtime.standardLibraryPaths
        XCTAssertEqual(try value(b, "__import__('sys').path", as: [String].self), stdlib + ["\(fixtures)/delegation/parent"])
        XCTAssertFalse(try value(a, "__import__('sys').path", as: [String].self).contains { $0.contains("dist-packages") })
        XCTAssertEqual(try value(a, "__import__('common').WHO", as: String.self), "child")
        XCTAssertEqual(try value(b, "__import__('common').WHO", as: String.self), "parent")
    }

    func testChildDoesNotImportSiteWithoutPthFiles() throws {
        let child = try makeChild("nosite", paths: ["\(fixtures)/delegation/child"])
        XCTAssertFalse(try child.eval("'site' in __import__('sys').modules").isTruthy())
    }

    /// A child starts with the internal `_pyloader` (its import machinery) only; the public
    /// `pyloader` comes on its first import, with the very classes the core raises.
    func testThePublicPyloaderModuleIsLoadedOnItsFirstImport() throws {
        let child = try makeChild("lazy-api")
        XCTAssertEqual(try value(child, "sorted(n for n in __import__('sys').modules if n.endswith('pyloader'))",
                                 as: [String].self), ["_pyloader"])
        try child.exec("import pyloader, _pyloader")
        XCTAssertTrue(try child.eval("pyloader.LoaderClosedError is _pyloader.LoaderClosedError").isTruthy())
        XCTAssertEqual(try value(child, "pyloader.LoaderClosedError.__module__ + '.' + pyloader.LoaderLeakWarning.__name__",
                                 as: String.self), "pyloader.LoaderLeakWarning")
        XCTAssertEqual(try value(child, "pyloader.current().name", as: String.self), child.name)
        // A closed loader's handle raises the class the user imported.
        try child.exec("_sibling = pyloader.root().child('lazy-api-sibling'); _sibling.close()")
        try child.exec("""
            try:
                _sibling.eval('1')
            except pyloader.LoaderClosedError:
                _caught = True
            """)
        XCTAssertTrue(try child.eval("_caught").isTruthy())
    }

    /// A child copies and pickles as `python` does, `__slots__` classes included. On 3.12+
    /// a child uses the root's dictionaries of builtin types, and its cached `object.__reduce__`
    /// must be the root's too: with its own, `object.__reduce_ex__` took every class for one
    /// that overrides `__reduce__` and reduced by protocol 0, which refuses `__slots__`
    /// (sqlparse 0.5.1's test_copy_issue672 under `pyloader test` on 3.13).
    func testACopyOrPickleInAChildIsPythons() throws {
        let child = try makeChild("copies")
        try child.exec("""
            import copy, pickle
            class Slotted:
                __slots__ = ("value",)
                def __init__(self, value):
                    self.value = value
            class Plain:
                pass
            _copied = copy.deepcopy(Slotted([1, 2]))
            _pickled = pickle.loads(pickle.dumps(Slotted("x"), protocol=2)).value
            """)
        XCTAssertEqual(try value(child, "_copied.value", as: [Int].self), [1, 2])
        XCTAssertEqual(try value(child, "_pickled", as: String.self), "x")
        // Protocol 2+ reduces with copyreg.__newobj__, protocol 0 with copyreg._reconstructor.
        XCTAssertEqual(try value(child, "Plain().__reduce_ex__(4)[0].__name__", as: String.self), "__newobj__")
    }

    func testPthFilesInAChildPathAreProcessed() throws {
        let folder = try temporaryFolder()
        let extra = folder + "/extra"
        try makeFolder(extra)
        try write("\(extra)/pthmodule.py", "VALUE = 'from pth'\n")
        try write("\(folder)/paths.pth", "extra\n")
        let child = try makeChild("pth", paths: [folder])
        XCTAssertEqual(try value(child, "__import__('pthmodule').VALUE", as: String.self), "from pth")
    }

    func testNamesAreValidatedAndUnique() throws {
        let root = try Loader.root
        for bad in ["", "-x", ".x", "a b", "a/b", "é", "root"] {
            XCTAssertThrowsError(try root.child(bad), "accepted \(bad.debugDescription)") { error in
                guard case LoaderError.invalidName = error else { return XCTFail("\(error)") }
            }
        }
        let first = try makeChild("dup")
        XCTAssertThrowsError(try root.child(first.name)) { error in
            XCTAssertEqual(error as? LoaderError, .duplicateName(first.name))
        }
        try first.close()
        let again = try root.child(first.name)   // a closed loader's name is free again
        try again.close()
    }

    func testMissingOrNonFolderPathsAreRejected() throws {
        let root = try Loader.root
        XCTAssertThrowsError(try root.child(uniqueName("p"), paths: ["/no/such/folder"])) { error in
            guard case LoaderError.invalidPath(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(reason, "no such folder")
        }
        XCTAssertThrowsError(try root.child(uniqueName("p"), paths: ["\(fixtures)/demo/pyloader.toml"])) { error in
            guard case LoaderError.invalidPath(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(reason, "not a folder")
        }
        XCTAssertThrowsError(try root.child(uniqueName("p"), shared: ["x"], local: ["x"])) { error in
            guard case LoaderError.invalidArgument = error else { return XCTFail("\(error)") }
        }
    }

    func testTreeAccessors() throws {
        let parent = try makeChild("tree", delegation: .childFirst, shared: ["hostapi"], local: ["greeting"])
        let child = try makeChild("leaf", of: parent)
        XCTAssertTrue(parent.children.contains { $0 === child })
        XCTAssertTrue(child.parent === parent)
        XCTAssertEqual(parent.delegation, .childFirst)
        XCTAssertEqual(parent.shared, ["hostapi"])
        XCTAssertEqual(parent.local, ["greeting"])
        XCTAssertTrue(try Loader.root.children.contains { $0 === parent })
        let names = try value(try Loader.root, "[l.name for l in __import__('pyloader').loaders()]", as: [String].self)
        let parentIndex = try XCTUnwrap(names.firstIndex(of: parent.name))
        let childIndex = try XCTUnwrap(names.firstIndex(of: child.name))
        XCTAssertEqual(names.first, "root")
        XCTAssertLessThan(parentIndex, childIndex)
    }

    func testTextIOIsUTF8WhateverTheLocale() throws {
        let child = try makeChild("utf8")
        XCTAssertEqual(try value(child, "__import__('sys').stdout.encoding", as: String.self), "utf-8")
        XCTAssertEqual(try value(child, "__import__('sys').flags.utf8_mode", as: Int.self), 1)
        XCTAssertEqual(try value(try Loader.root, "__import__('sys').getfilesystemencoding()", as: String.self), "utf-8")
    }

    func testPythonChildTakesEveryOption() throws {
        let parent = try makeChild("pyopts")
        try parent.exec("""
            import pyloader
            c = pyloader.current().child('\(uniqueName("pyopts-c"))', paths=['\(fixtures)/delegation/child'],
                                         delegation='child-first', shared=['x'], local=['y'], extensions='error')
            opts = [c.delegation, list(c.shared), list(c.local), c.extensions, list(c.paths)]
            c.close()
            try:
                pyloader.current().child('bad-ext', extensions='sometimes')
            except ValueError as e:
                bad = str(e)
            """)
        XCTAssertEqual(try parent.eval("opts").description,
                       "['child-first', ['x'], ['y'], 'error', ['\(fixtures)/delegation/child']]")
        XCTAssertTrue(try value(parent, "bad", as: String.self).contains("extensions must be"))
    }

    func testRunMainSetsArgvAndReturnsTheExitStatus() throws {
        let child = try makeChild("main")
        XCTAssertEqual(try child.runMain(path: "\(fixtures)/scripts/exit_code.py", arguments: ["7"]), 7)
        XCTAssertEqual(try value(child, "__import__('sys').argv", as: [String].self),
                       ["\(fixtures)/scripts/exit_code.py", "7"])
        XCTAssertEqual(try child.runMain(code: "pass"), 0)
        XCTAssertEqual(try child.runMain(code: "raise SystemExit(None)"), 0)
        XCTAssertEqual(try child.runMain(code: "import sys; sys.exit('message')"), 1)
        XCTAssertEqual(try child.runMain(code: "raise ValueError('uncaught')"), 1)
        XCTAssertEqual(try child.runMain(code: "raise KeyboardInterrupt"), 130)
        XCTAssertEqual(try child.runMain(path: "/no/such/script.py"), 1)
        // The script's folder was on sys.path only for the run.
        XCTAssertFalse(try value(child, "__import__('sys').path", as: [String].self).contains("\(fixtures)/scripts"))
    }

    func testRunMainModule() throws {
        let child = try makeChild("mainmod", paths: ["\(fixtures)/scripts"])
        XCTAssertEqual(try child.runMain(module: "echo_mod", arguments: ["x"]), 0)
        let argv = try value(child, "__import__('sys').argv", as: [String].self)
        XCTAssertEqual(argv.last, "x")
        XCTAssertTrue(argv.first?.hasSuffix("echo_mod/__main__.py") ?? false, "\(argv)")
    }

    /// `PythonError.isInstance(of:)` answers as `isinstance` does: by the whole class
    /// hierarchy, with bare or module-qualified names.
    func testPythonErrorKnowsTheExceptionsClassHierarchy() throws {
        let child = try makeChild("hierarchy")
        do {
            _ = try child.importModule("no_module_has_this_name")
            XCTFail("imported a missing module")
        } catch let error as PythonError {
            XCTAssertEqual(error.typeName, "ModuleNotFoundError")
            XCTAssertEqual(error.typeHierarchy, ["builtins.ModuleNotFoundError", "builtins.ImportError",
                                                 "builtins.Exception", "builtins.BaseException"])
            XCTAssertTrue(error.isInstance(of: "ImportError"))
            XCTAssertTrue(error.isInstance(of: "builtins.ImportError"))
            XCTAssertFalse(error.isInstance(of: "ValueError"))
            XCTAssertFalse(error.isInstance(of: "Error"))
        }
        try child.exec("""
            class Outer:
                class Failure(KeyError):
                    pass
            def fail():
                raise Outer.Failure("x")
            """)
        XCTAssertThrowsError(try child.eval("fail").call()) { error in
            guard let error = error as? PythonError else { return XCTFail("\(error)") }
            XCTAssertTrue(error.isInstance(of: "__main__.Outer.Failure"))
            XCTAssertTrue(error.isInstance(of: "Outer.Failure"))
            XCTAssertFalse(error.isInstance(of: "Failure"))
            XCTAssertTrue(error.isInstance(of: "LookupError"))
            XCTAssertFalse(error.isInstance(of: "ImportError"))
        }
    }
}

// MARK: Files

func temporaryFolder() throws -> String {
    var template = Array("/tmp/pyloader-test-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw LoaderError.runtime("mkdtemp failed") }
    return String(cString: made)
}

func makeFolder(_ path: String) throws {
    guard mkdir(path, 0o755) == 0 else { throw LoaderError.runtime("mkdir \(path) failed") }
}

func write(_ path: String, _ text: String) throws {
    guard let file = fopen(path, "w") else { throw LoaderError.runtime("cannot write \(path)") }
    fputs(text, file)
    fclose(file)
}
