import XCTest
@testable import PyLoader

/// Root → host (Fixtures/demo/host) → alpha, beta (child-first, `hostapi` shared),
/// as in Fixtures/demo/pyloader.toml.
class PluginTreeTestCase: LoaderTestCase {
    var host: Loader!
    var alpha: Loader!
    var beta: Loader!

    override func setUpWithError() throws {
        try super.setUpWithError()
        let demo = "\(fixtures)/demo"
        host = try makeChild("host", paths: ["\(demo)/host"])
        alpha = try makeChild("alpha", of: host, paths: ["\(demo)/plugins/alpha", "\(demo)/plugins/alpha/site-packages"],
                              delegation: .childFirst, shared: ["hostapi"])
        beta = try makeChild("beta", of: host, paths: ["\(demo)/plugins/beta", "\(demo)/plugins/beta/site-packages"],
                             delegation: .childFirst, shared: ["hostapi"])
    }
}

final class DelegationTests: PluginTreeTestCase {
    func testSiblingsSeeConflictingVersionsSideBySide() throws {
        let one = try alpha.importModule("greeting")
        let two = try beta.importModule("greeting")
        XCTAssertEqual(String(try one.__version__), "1.0")
        XCTAssertEqual(String(try two.__version__), "2.0")
        XCTAssertEqual(String(try one.hello("Ada")), "Hello, Ada!")
        XCTAssertEqual(String(try two.hello("Ada")), "Hi there, Ada! (greeting 2)")
        // Both stay alive and usable at once.
        XCTAssertEqual(String(try one.__version__), "1.0")
        XCTAssertFalse(try host.eval("'greeting' in __import__('sys').modules").isTruthy())
    }

    func testSharedHostAPIIsOneModuleWithOneRegistry() throws {
        _ = try alpha.importModule("alpha")
        _ = try beta.importModule("beta")
        let hostAPI = try host.importModule("hostapi")
        XCTAssertTrue(try hostAPI.isIdentical(to: try alpha.eval("__import__('hostapi')")))
        XCTAssertTrue(try hostAPI.isIdentical(to: try beta.eval("__import__('hostapi')")))
        try host.exec("import hostapi")
        XCTAssertEqual(try value(host, "sorted(type(p).__name__ for p in hostapi.plugins())", as: [String].self).count, 2)
        XCTAssertTrue(try host.eval("all(isinstance(p, hostapi.Plugin) for p in hostapi.plugins())").isTruthy())
        let greetings = try value(host, "sorted(p.greet('Bob') for p in hostapi.plugins())", as: [String].self)
        XCTAssertEqual(greetings, ["Hello, Bob!", "Hi there, Bob! (greeting 2)"])
        // The defining loader's module was not modified by being delegated.
        XCTAssertEqual(try value(host, "type(hostapi.__loader__).__name__", as: String.self), "SourceFileLoader")
        XCTAssertEqual(try value(host, "hostapi.__spec__.loader is hostapi.__loader__", as: Bool.self), true)
        XCTAssertEqual(try value(alpha, "__import__('pyloader').defining_loader(__import__('hostapi')).name", as: String.self), host.name)
    }

    func testParentFirstTakesWhatTheParentHasAndChildFirstPrefersItsOwn() throws {
        let base = "\(fixtures)/delegation"
        let grand = try makeChild("grand", paths: ["\(base)/grandparent"])
        let parent = try makeChild("par", of: grand, paths: ["\(base)/parent"])
        let parentFirst = try makeChild("pf", of: parent, paths: ["\(base)/child"])
        let childFirst = try makeChild("cf", of: parent, paths: ["\(base)/child"], delegation: .childFirst)
        let localCommon = try makeChild("lc", of: parent, paths: ["\(base)/child"], local: ["common"])
        let sharedChildOnly = try makeChild("sc", of: parent, paths: ["\(base)/child"], delegation: .childFirst,
                                            shared: ["childonly"])
        // `common` exists at all three levels: the parent's own rules decide for it
        // (parent-first: from its parent, the grandparent).
        XCTAssertEqual(try value(parent, "__import__('common').WHO", as: String.self), "grandparent")
        XCTAssertEqual(try value(parentFirst, "__import__('common').WHO", as: String.self), "grandparent")
        XCTAssertEqual(try value(childFirst, "__import__('common').WHO", as: String.self), "child")
        XCTAssertEqual(try value(localCommon, "__import__('common').WHO", as: String.self), "child")
        // A name only the grandparent has reaches the grandchild through the chain.
        XCTAssertTrue(try parentFirst.eval("__import__('onlygrand')").isIdentical(to: try grand.importModule("onlygrand")))
        XCTAssertEqual(try parentFirst.which("onlygrand")?.name, grand.name)
        // Names only the child has stay local in both orders.
        XCTAssertEqual(try parentFirst.which("childonly")?.name, parentFirst.name)
        XCTAssertEqual(try childFirst.which("parentonly")?.name, parent.name)
        // Shared: always from the parent; a clear error naming the chain when it cannot.
        XCTAssertThrowsError(try sharedChildOnly.importModule("childonly")) { error in
            guard let error = error as? PythonError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.typeName, "ModuleNotFoundError")
            XCTAssertTrue(error.message.contains("shared in loader '\(sharedChildOnly.name)'"), error.message)
            XCTAssertTrue(error.message.contains("\(parent.name) -> \(grand.name) -> root"), error.message)
        }
        // The standard library is every loader's own unless shared.
        XCTAssertFalse(try childFirst.eval("__import__('json')").isIdentical(to: try parent.importModule("json")))
        let sharedJSON = try makeChild("sj", of: parent, shared: ["json"])
        XCTAssertTrue(try sharedJSON.eval("__import__('json')").isIdentical(to: try parent.importModule("json")))
    }

    func testLazyImportInADelegatedFunctionLandsInItsDefiningLoader() throws {
        let lazyHost = try makeChild("lazyhost", paths: ["\(fixtures)/delegation/lazy"])
        let child = try makeChild("lazychild", of: lazyHost)
        try child.exec("import lazyimp")
        XCTAssertTrue(try child.eval("__import__('lazyimp')").isIdentical(to: try lazyHost.importModule("lazyimp")))
        XCTAssertFalse(try child.eval("'decimal' in __import__('sys').modules").isTruthy())
        // load_decimal() runs `import decimal` in its body. It is lazyhost's code, called
        // on this thread while the child's thread state is current: Eby's hook (the
        // `__import__` of lazyhost's builtins) swaps to lazyhost's thread state for the
        // import. Without the hook, CPython's own __import__ would import into the
        // *current* interpreter — the child (the control below shows that path).
        XCTAssertEqual(try value(child, "lazyimp.load_decimal()", as: String.self), "decimal")
        XCTAssertFalse(try child.eval("'decimal' in __import__('sys').modules").isTruthy())
        XCTAssertTrue(try lazyHost.eval("'decimal' in __import__('sys').modules").isTruthy())
        // Relative lazy import too.
        XCTAssertEqual(try value(child, "lazyimp.load_relative()", as: String.self), "lazyimp.helper")
        XCTAssertFalse(try child.eval("'lazyimp.helper' in __import__('sys').modules").isTruthy())
        // Control: an import executed by the child's own code lands in the child.
        XCTAssertEqual(try value(child, "__import__('fractions').__name__", as: String.self), "fractions")
        XCTAssertTrue(try child.eval("'fractions' in __import__('sys').modules").isTruthy())
        XCTAssertFalse(try lazyHost.eval("'fractions' in __import__('sys').modules").isTruthy())
    }

    func testSubmodulesOfADelegatedPackageNeverLoadInTheChild() throws {
        let pkgHost = try makeChild("pkghost", paths: ["\(fixtures)/delegation/pkg"])
        let child = try makeChild("pkgchild", of: pkgHost)
        try child.exec("""
            import deep.sub.leaf
            from deep.sub import leaf as leaf2
            from deep import helpers
            import importlib, importlib.util
            leaf3 = importlib.import_module('deep.sub.leaf')
            leaf4 = __import__('deep.sub.leaf', fromlist=['x'])
            spec = importlib.util.find_spec('deep.sub')
            """)
        let leaf = try pkgHost.importModule("deep.sub.leaf")
        for name in ["deep.sub.leaf", "leaf2", "leaf3", "leaf4"] {
            XCTAssertTrue(try child.eval(name).isIdentical(to: leaf), name)
        }
        XCTAssertEqual(try value(child, "__import__('pyloader').defining_loader(helpers).name", as: String.self), pkgHost.name)
        XCTAssertEqual(try value(child, "spec.name", as: String.self), "deep.sub")
        // Every module of the package was executed by the host: their loaders are the host's.
        XCTAssertEqual(try value(child, """
            sorted({type(m.__loader__).__name__ for n, m in __import__('sys').modules.items() if n.startswith('deep')})
            """, as: [String].self), ["SourceFileLoader"])
    }

    func testReloadOfADelegatedModuleIsRefusedWithoutChangingIt() throws {
        try alpha.exec("import hostapi, importlib")
        let before = try value(host, "repr(__import__('hostapi').__spec__)", as: String.self)
        XCTAssertThrowsError(try alpha.exec("importlib.reload(hostapi)")) { error in
            XCTAssertEqual((error as? PythonError)?.typeName, "ImportError")
            XCTAssertTrue("\(error)".contains("delegated to loader '\(self.host.name)'"), "\(error)")
        }
        XCTAssertEqual(try value(host, "repr(__import__('hostapi').__spec__)", as: String.self), before)
        // In its defining loader, reload works and the child sees the same object.
        try host.exec("import importlib, hostapi\nimportlib.reload(hostapi)")
        XCTAssertTrue(try alpha.eval("hostapi").isIdentical(to: try host.importModule("hostapi")))
    }

    func testPrivateStandardLibraryModulesAreEveryLoadersOwn() throws {
        // _sysconfigdata_* is in the standard library's folder but not in
        // sys.stdlib_module_names: it must not be delegated to the root.
        let name = try value(try Loader.root, "__import__('sysconfig')._get_sysconfigdata_name()", as: String.self)
        let child = try makeChild("private-stdlib")
        XCTAssertEqual(try child.which(name)?.name, child.name)
        XCTAssertFalse(try child.importModule(name).isIdentical(to: try Loader.root.importModule(name)))
    }

    func testParentNamespacePackageDoesNotHideTheChildsRegularPackage() throws {
        let parentFolder = try temporaryFolder(), childFolder = try temporaryFolder()
        try makeFolder("\(parentFolder)/nspkg")
        try write("\(parentFolder)/nspkg/portion.py", "WHERE = 'parent portion'\n")
        try makeFolder("\(childFolder)/nspkg")
        try write("\(childFolder)/nspkg/__init__.py", "WHERE = 'child regular'\n")
        let parent = try makeChild("ns-parent", paths: [parentFolder])
        let child = try makeChild("ns-child", of: parent, paths: [childFolder])
        XCTAssertEqual(try value(child, "__import__('nspkg').WHERE", as: String.self), "child regular")
        XCTAssertEqual(try child.which("nspkg")?.name, child.name)
        // Without a regular package of its own, the child takes the parent's namespace package.
        let other = try makeChild("ns-other", of: parent)
        XCTAssertEqual(try value(other, "__import__('nspkg.portion').portion.WHERE", as: String.self), "parent portion")
    }

    func testClosingAChildLeavesTheModulesItBorrowedIntact() throws {
        // Regression: Py_EndInterpreter cleared every module in the child's sys.modules,
        // including the host's own hostapi delegated to it (hostapi.__version__ became None).
        try alpha.exec("import hostapi, hostapi.registry")
        try alpha.close()
        XCTAssertEqual(try value(host, "__import__('hostapi').__version__", as: String.self), "1.0")
        XCTAssertEqual(try value(host, "__import__('hostapi').registry.plugins()", as: [String].self), [])
        XCTAssertEqual(try value(host, "__import__('hostapi').describe()", as: String.self).contains("hostapi"), true)
    }

    func testFailedDelegatedImportReportsTheRealErrorAndTheDefiningLoader() throws {
        let broken = try makeChild("broken", paths: ["\(fixtures)/delegation/broken"])
        let child = try makeChild("brokenchild", of: broken)
        for (name, type) in [("syntaxerr", "SyntaxError"), ("missingdep", "ModuleNotFoundError"), ("raises", "RuntimeError")] {
            XCTAssertThrowsError(try child.importModule(name)) { error in
                guard let error = error as? PythonError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.typeName, type, name)
                XCTAssertTrue(error.traceback.contains("in loader '\(broken.name)'"), error.traceback)
                if name == "missingdep" { XCTAssertTrue(error.message.contains("does_not_exist_dep"), error.message) }
            }
            // Nothing half-registered anywhere.
            XCTAssertFalse(try child.eval("'\(name)' in __import__('sys').modules").isTruthy())
            XCTAssertFalse(try broken.eval("'\(name)' in __import__('sys').modules").isTruthy())
        }
    }
}
