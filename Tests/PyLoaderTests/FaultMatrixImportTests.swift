import CPython
import Foundation
import XCTest
@testable import PyLoader

/// Rows of the fault matrix (see `FaultMatrixTestCase`): import faults.
final class FaultMatrixImportTests: FaultMatrixTestCase {
    // MARK: - Import faults

    /// P's `cyca` imports C's `cycb` (through `pyloader.get(C).import_module`), and
    /// `cycb` imports `cyca`, which C takes from P (parent-first) while P is still
    /// executing it. It behaves like a cycle inside one interpreter: `cycb` sees the
    /// partly initialized module, nothing deadlocks, and both modules end up complete
    /// and shared by identity.
    func testImportCycleAcrossTwoLoaders() throws {
        let (parent, child) = try makeCycle(crossing: "cycb = pyloader.get(CHILD).import_module('cycb')")
        defer { try? parent.close() }
        try parent.exec("import cyca")
        try assertCycleCompleted(parent, child)
        try parent.close()
        XCTAssertTrue(child.isClosed)
        try assertHealthy()
    }

    /// A context loader set inside a module body does not redirect the body's own imports
    /// (the context rule, issue 10): `with pyloader.context(C): import cycb` in P's `cyca`
    /// looks for `cycb` in P, which cannot provide it. (Before the rule it crossed to C.)
    func testAContextLoaderInsideAModuleBodyDoesNotRedirectItsImports() throws {
        let (parent, child) = try makeCycle(crossing: "with pyloader.context(pyloader.get(CHILD)):\n    import cycb")
        defer { try? parent.close() }
        try assertPythonError("ModuleNotFoundError", in: parent, "import cyca")
        XCTAssertFalse(try value(child, "'cyca' in __import__('sys').modules", as: Bool.self))
        try assertHealthy()
    }

    /// The cycle with its crossing made by a context loader at call time, on two threads
    /// at once: P's `cyca` imports C's `cycb` explicitly while another thread's
    /// `importlib.import_module('cycb')` under C's context starts `cycb`, which imports
    /// `cyca`. Must complete, not deadlock (issue 10, item 3).
    func testImportCycleThroughAContextLoaderOnTwoThreadsDoesNotDeadlock() throws {
        try assertScenarioSucceeds("two-thread-context-cycle")
        try assertHealthy()
    }

    /// Under a context loader that is a parent-first child, looking up a name that is not
    /// in the standard library must end in ModuleNotFoundError (or the module), not
    /// RecursionError (before 650f4f6 PyLoader's own imports followed the context).
    func testContextLoaderImportThatAsksTheParentChain() throws {
        let parent = try makeChild("ctx-p")
        let child = try makeChild("ctx-c", of: parent)
        try parent.exec("import pyloader\nCHILD = pyloader.get('\(child.name)')")
        try assertPythonError("ModuleNotFoundError", in: parent,
                              "with pyloader.context(CHILD):\n    __import__('importlib').import_module('no_such_module_anywhere')")
        try assertHealthy()
    }

    /// Swift's `importModule` under `withContext`: CPython's PyImport_ImportModule calls
    /// `builtins.__import__` (the hook, which honours the context and imports into the
    /// context loader) and then reads the *importing* loader's `sys.modules`, so before
    /// 650f4f6 it threw KeyError. `importModule` names its loader: the context does not apply.
    func testSwiftImportModuleUnderAContextLoader() throws {
        let parent = try makeChild("ctximp-p")
        let context = try makeChild("ctximp-x")
        let module = try context.withContext { try parent.importModule("colorsys") }
        XCTAssertEqual(try String(python: try module.__name__), "colorsys")
        try assertHealthy()
    }

    /// The same cycle imported from both ends at once on two threads. In one
    /// interpreter importlib detects the deadlock (`_blocking_on`) and hands one side
    /// the partial module; across interpreters each has its own `_blocking_on`, so
    /// today the two threads wait for each other forever.
    func testImportCycleAcrossTwoLoadersOnTwoThreadsDoesNotDeadlock() throws {
        try assertScenarioSucceeds("two-thread-import-cycle")
        try assertHealthy()
    }

    /// A module that raises while it is imported is removed by importlib; delegation
    /// must not leave it (or a delegation record) anywhere either: not in the defining
    /// loader, not in the importing child, not in the root. Importing again raises again.
    func testModuleRaisingDuringImportLeavesNoHalfRegisteredModule() throws {
        let folder = try scratchFolder()
        try makePackage(folder + "/p", "boom", "import sys\nsys.modules.setdefault('boom_ran', sys)\nraise RuntimeError('boom during import')")
        try makePackage(folder + "/p", "okpkg", "VALUE = 1")
        try write(folder + "/p/okpkg/bad.py", "raise ValueError('bad submodule')\n")
        try makePackage(folder + "/c", "cboom", "raise LookupError('local boom')")
        let parent = try makeChild("raise-p", paths: [folder + "/p"])
        let child = try makeChild("raise-c", of: parent, paths: [folder + "/c"])
        let everywhere = [try Loader.root, parent, child, bystander!]
        func assertNowhere(_ name: String, line: UInt = #line) throws {
            for loader in everywhere {
                XCTAssertFalse(try value(loader, "\(pythonLiteral(name)) in __import__('sys').modules", as: Bool.self),
                               "\(name) left in \(loader.name)", line: line)
            }
        }
        for attempt in 0..<2 {
            try assertPythonError("RuntimeError", in: child, "import boom", containing: "boom during import")
            try assertNowhere("boom")
            XCTAssertTrue(try child.withActivated { child.delegatedNames["boom"] == nil }, "attempt \(attempt)")
            try assertPythonError("ValueError", in: child, "import okpkg.bad", containing: "bad submodule")
            try assertNowhere("okpkg.bad")
            XCTAssertEqual(try value(child, "hasattr(__import__('okpkg'), 'bad')", as: Bool.self), false)
            try assertPythonError("LookupError", in: child, "import cboom", containing: "local boom")
            try assertNowhere("cboom")
        }
        // The package itself imported fine and is the parent's, by identity.
        XCTAssertTrue(try child.importModule("okpkg").isIdentical(to: try parent.importModule("okpkg")))
        try assertPythonError("RuntimeError", in: parent, "import boom")
        XCTAssertEqual(try child.which("boom")?.name, parent.name)
        try assertHealthy()
    }

    /// `del sys.modules[__name__]` during import makes CPython 3.11's importlib raise
    /// KeyError (`_load_unlocked` pops the name); a module that replaces itself in
    /// `sys.modules` (a legal idiom) is what every importer gets, delegated or not.
    func testModuleThatDeletesItselfFromSysModules() throws {
        let folder = try scratchFolder()
        try makePackage(folder + "/p", "selfdel", "import sys\nRAN = True\ndel sys.modules[__name__]")
        try makePackage(folder + "/p", "selfrep", "import sys\nsys.modules[__name__] = ('replacement', 42)")
        let parent = try makeChild("selfdel-p", paths: [folder + "/p"])
        let child = try makeChild("selfdel-c", of: parent)
        let localError = try pythonErrorType(in: parent, "import selfdel")
        let delegatedError = try pythonErrorType(in: child, "import selfdel")
        XCTAssertEqual(localError, "KeyError")
        XCTAssertEqual(delegatedError, localError, "delegation changed the error")
        for loader in [parent, child] {
            XCTAssertFalse(try value(loader, "'selfdel' in __import__('sys').modules", as: Bool.self), loader.name)
        }
        XCTAssertEqual(try value(child, "__import__('selfrep')[1]", as: Int.self), 42)
        XCTAssertTrue(try child.eval("__import__('selfrep')").isIdentical(to: try parent.eval("__import__('selfrep')")))
        try child.close()
        XCTAssertEqual(try value(parent, "__import__('selfrep')[1]", as: Int.self), 42)
        try assertHealthy()
    }

    /// `which` for a delegated module that replaced itself in `sys.modules` by a
    /// non-module object: the child's `sys.modules` entry has no globals to tell its
    /// definer by, so the answer must come from the delegation record (it named the
    /// importing child before cbcfc3e).
    func testWhichOfADelegatedModuleThatReplacedItself() throws {
        let folder = try scratchFolder()
        try makePackage(folder + "/p", "selfrep", "import sys\nsys.modules[__name__] = ('replacement', 42)")
        let parent = try makeChild("selfrep-p", paths: [folder + "/p"])
        let child = try makeChild("selfrep-c", of: parent)
        XCTAssertEqual(try child.which("selfrep")?.name, parent.name, "before the import")
        _ = try child.importModule("selfrep")
        XCTAssertEqual(try child.which("selfrep")?.name, parent.name, "after the import")
    }

    /// Documented behaviour: `sys.meta_path` is the user's. Emptying it breaks imports of
    /// anything not yet imported (ModuleNotFoundError), removing PyLoader's finder turns
    /// delegation off for that loader, `None` gives ImportError; restoring it restores
    /// both. The Swift side (`which`, close) never depends on it.
    func testUserReplacedMetaPath() throws {
        let base = "\(fixtures)/delegation"
        let parent = try makeChild("meta-p", paths: ["\(base)/parent"])
        let child = try makeChild("meta-c", of: parent)
        try child.exec("import sys\nsaved = list(sys.meta_path)\nsys.meta_path = []")
        try assertPythonError("ModuleNotFoundError", in: child, "import parentonly")
        try assertPythonError("ModuleNotFoundError", in: child, "import decimal")
        XCTAssertEqual(try child.which("parentonly")?.name, parent.name)
        try child.exec("sys.meta_path = [f for f in saved if getattr(f, '__name__', '') != '_DelegatingFinder']")
        try assertPythonError("ModuleNotFoundError", in: child, "import parentonly")
        XCTAssertEqual(try value(child, "__import__('fractions').__name__", as: String.self), "fractions")
        try child.exec("sys.meta_path = None")
        try assertPythonError("ImportError", in: child, "import parentonly")
        try child.exec("sys.meta_path = saved")
        XCTAssertTrue(try child.importModule("parentonly").isIdentical(to: try parent.importModule("parentonly")))
        try child.exec("sys.meta_path = 'not a list'")
        _ = try? child.exec("import calendar")   // whatever CPython makes of it: an exception, no crash
        try child.exec("sys.meta_path = saved")
        try child.close()
        try assertHealthy()
    }

    /// Documented behaviour: `builtins.__import__` is the user's too. A replacement is
    /// called for every import statement in that loader (Eby's hook is bypassed, as
    /// CPython bypasses any hook it replaces); deleting it gives
    /// "ImportError: __import__ not found"; a wrapper around PyLoader's hook keeps
    /// the delegation and crossing rules; the Swift API still imports normally.
    func testUserReplacedBuiltinsImport() throws {
        let base = "\(fixtures)/delegation"
        let parent = try makeChild("imp-p", paths: ["\(base)/parent", "\(base)/lazy"])
        let child = try makeChild("imp-c", of: parent)
        try child.exec("""
            import builtins
            original = builtins.__import__
            builtins.__import__ = lambda name, *args, **kwargs: ('fake', name)
            import fractions as fake
            """)
        XCTAssertEqual(try value(child, "fake", as: [String].self), ["fake", "fractions"])
        // importModule does not go through builtins.__import__ (the loader is named
        // explicitly), but the module's own import statements do: fractions' own
        // `from decimal import Decimal` gets the replacement's tuple.
        XCTAssertThrowsError(try child.importModule("fractions")) { error in
            XCTAssertEqual((error as? PythonError)?.typeName, "ImportError")
        }
        try child.exec("del builtins.__import__")
        try assertPythonError("ImportError", in: child, "import fractions", containing: "__import__ not found")
        // A wrapper keeps the rules: delegation and Eby's crossing.
        try child.exec("""
            calls = []
            def wrapper(name, *args, **kwargs):
                calls.append(name)
                return original(name, *args, **kwargs)
            builtins.__import__ = wrapper
            import parentonly, lazyimp
            """)
        XCTAssertTrue(try child.eval("parentonly").isIdentical(to: try parent.importModule("parentonly")))
        XCTAssertEqual(try value(child, "lazyimp.load_decimal()", as: String.self), "decimal")
        XCTAssertEqual(try value(parent, "'decimal' in __import__('sys').modules", as: Bool.self), true)
        XCTAssertEqual(try value(child, "'decimal' in __import__('sys').modules", as: Bool.self), false)
        XCTAssertEqual(try value(child, "calls[:2]", as: [String].self), ["parentonly", "lazyimp"])
        // Another loader's hook installed by hand: imports run there, and once that
        // loader closes its disarmed hook raises ImportError naming it.
        let other = try makeChild("imp-o")
        try child.exec("builtins.__import__ = __import__('pyloader').get('\(other.name)').eval('__import__')")
        try child.exec("import colorsys")
        XCTAssertEqual(try value(other, "'colorsys' in __import__('sys').modules", as: Bool.self), true)
        try other.close()
        try assertPythonError("ImportError", in: child, "import textwrap", containing: "loader '\(other.name)' is closed")
        // Contexts switch every live hook off the fast path and back: replaced ones are left alone.
        try parent.withContext {
            XCTAssertEqual(try value(parent, "__import__('fractions').__name__", as: String.self), "fractions")
        }
        try child.exec("builtins.__import__ = original")
        XCTAssertEqual(try value(child, "__import__('textwrap').__name__", as: String.self), "textwrap")
        try parent.close()
        try assertHealthy()
    }
}
