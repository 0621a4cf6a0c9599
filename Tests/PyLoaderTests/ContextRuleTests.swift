import XCTest
@testable import PyLoader

/// The context rule (issue 10; the steps are in `ContextLoaders`): a module's own imports
/// resolve in its defining loader whatever the thread's context loader; the context loader
/// serves lookups by name made at call time. Every import route, on both sides of the line.
final class ContextRuleTests: LoaderTestCase {
    /// A folder on the root's `sys.path` for this test's modules (unique names per test).
    private var folder: String!

    override func setUpWithError() throws {
        try super.setUpWithError()
        folder = try temporaryFolder()
        try Loader.root.exec("import sys\nsys.path.append(\(pythonLiteral(folder)))")
    }

    override func tearDownWithError() throws {
        try Loader.root.exec("import sys\nsys.path.remove(\(pythonLiteral(folder)))")
        try super.tearDownWithError()
    }

    /// Issue 10's 12-line reproduction, for every way a module body can import: the
    /// root's module, first imported while a child is the context loader, holds the
    /// root's `json` and keeps working after the child closes.
    func testARootModuleFirstImportedUnderAChildsContextHoldsTheRootsModules() throws {
        let routes = [
            "import": "import json\n",
            "from": "from json import dumps as _dumps\nimport sys\njson = sys.modules['json']\n",
            "import_module": "import importlib\njson = importlib.import_module('json')\n",
            "__import__": "json = __import__('json')\n",
            "function": "import importlib\ndef _load():\n    return importlib.import_module('json')\njson = _load()\n",
        ]
        for (route, body) in routes {
            let name = "hostlib_" + route.filter(\.isLetter)
            try write("\(folder!)/\(name).py", body + "def dump(x):\n    return json.dumps(x)\n")
            let plug = try makeChild("plug")
            try Loader.root.exec("""
                import pyloader
                with pyloader.context(pyloader.get('\(plug.name)')):
                    import \(name)
                """)
            XCTAssertEqual(try value(try Loader.root, "pyloader.defining_loader(\(name)).name", as: String.self), "root", route)
            XCTAssertEqual(try value(try Loader.root, "pyloader.defining_loader(\(name).json).name", as: String.self), "root", route)
            XCTAssertFalse(try value(plug, "'json' in __import__('sys').modules", as: Bool.self), route)
            try plug.close()
            XCTAssertEqual(try value(try Loader.root, "\(name).dump([1])", as: String.self), "[1]", route)
        }
    }

    /// The relative route: a package of the root whose submodule imports its sibling
    /// relatively, first imported under a child's context.
    func testRelativeImportsInAModuleFirstImportedUnderAContextStayInItsLoader() throws {
        try makeFolder("\(folder!)/relpkg")
        try write("\(folder!)/relpkg/__init__.py", "from . import helper\nfrom .helper import dump\n")
        try write("\(folder!)/relpkg/helper.py", "import json\ndef dump(x):\n    return json.dumps(x)\n")
        let plug = try makeChild("plug")
        try Loader.root.exec("import pyloader\nwith pyloader.context(pyloader.get('\(plug.name)')):\n    import relpkg")
        XCTAssertEqual(try value(try Loader.root, "pyloader.defining_loader(relpkg.helper.json).name", as: String.self), "root")
        // A relative lookup by name at call time ignores the context too: the root's own.
        try Loader.root.exec("""
            import importlib
            with pyloader.context(pyloader.get('\(plug.name)')):
                relative_found = importlib.import_module('.helper', 'relpkg')
            """)
        XCTAssertTrue(try Loader.root.eval("relative_found is relpkg.helper").isTruthy())
        try Loader.root.exec("del relative_found")
        try plug.close()
        XCTAssertEqual(try value(try Loader.root, "relpkg.dump({'a': 1})", as: String.self), "{\"a\": 1}")
    }

    /// A package delegated three levels down (grandparent → parent → leaf), first imported
    /// by the leaf while the leaf is the context loader: its modules bind the grandparent's.
    func testADelegatedPackageThreeLevelsUpBindsItsDefiningLoadersModules() throws {
        let base = try temporaryFolder()
        try makeFolder("\(base)/deeppkg")
        try makeFolder("\(base)/deeppkg/sub")
        try write("\(base)/deeppkg/__init__.py", "")
        try write("\(base)/deeppkg/sub/__init__.py", "import importlib\nstring = importlib.import_module('string')\n")
        try write("\(base)/deeppkg/sub/leaf.py", "import json\nfrom . import other\ndef dump(x):\n    return json.dumps(x) + other.TAG\n")
        try write("\(base)/deeppkg/sub/other.py", "import textwrap\nTAG = textwrap.dedent('  !')\n")
        let grand = try makeChild("ctx-g", paths: [base])
        let parent = try makeChild("ctx-p", of: grand)
        let leaf = try makeChild("ctx-l", of: parent)
        try leaf.withContext {
            try leaf.exec("import deeppkg.sub.leaf as leafmod")
        }
        XCTAssertTrue(try leaf.eval("leafmod").isIdentical(to: try grand.importModule("deeppkg.sub.leaf")))
        for (expression, module) in [("leafmod.json", "json"), ("leafmod.other.textwrap", "textwrap"),
                                     ("__import__('sys').modules['deeppkg.sub'].string", "string")] {
            XCTAssertTrue(try leaf.eval(expression).isIdentical(to: try grand.importModule(module)), expression)
        }
        XCTAssertFalse(try value(leaf, "'textwrap' in __import__('sys').modules", as: Bool.self))
        try leaf.close()
        try parent.close()
        XCTAssertEqual(try value(grand, "__import__('deeppkg.sub.leaf').sub.leaf.dump([2])", as: String.self), "[2]!")
    }

    /// The other side of the line: under a context loader, lookups by name at call time go
    /// to it; import statements and `__import__` stay in the importing code's loader.
    func testTheContextLoaderServesLookupsByNameAtCallTimeOnly() throws {
        let base = try temporaryFolder()
        try write("\(base)/onlyinplug.py", "WHO = 'plug'\n")
        let plug = try makeChild("plug", paths: [base])
        let root = try Loader.root
        try root.exec("""
            import importlib, pyloader, sys
            _plug = pyloader.get('\(plug.name)')
            with pyloader.context(_plug):
                ctx_found = importlib.import_module('onlyinplug')
                ctx_explicit = pyloader.context_loader().import_module('onlyinplug')
                try:
                    import onlyinplug
                except ModuleNotFoundError:
                    ctx_statement = 'not found'
                try:
                    __import__('onlyinplug')
                except ModuleNotFoundError:
                    ctx_dunder = 'not found'
            """)
        XCTAssertEqual(try value(root, "ctx_found.WHO", as: String.self), "plug")
        XCTAssertTrue(try root.eval("ctx_found").isIdentical(to: try root.eval("ctx_explicit")))
        XCTAssertEqual(try value(root, "pyloader.defining_loader(ctx_found).name", as: String.self), plug.name)
        XCTAssertEqual(try value(root, "ctx_statement", as: String.self), "not found")
        XCTAssertEqual(try value(root, "ctx_dunder", as: String.self), "not found")
        XCTAssertFalse(try value(root, "'onlyinplug' in sys.modules", as: Bool.self))
        try root.exec("del ctx_found, ctx_explicit")
    }

    /// A module body's own lookups by name ignore the context (step 3), even one made by
    /// a framework function that the body calls.
    func testInsideAModuleBodyLookupsByNameStayInItsLoader() throws {
        try write("\(folder!)/framework_reg.py", "import importlib\ndef load(name):\n    return importlib.import_module(name)\n")
        try write("\(folder!)/usesreg.py", "import framework_reg\ncolorsys = framework_reg.load('colorsys')\n")
        let plug = try makeChild("plug")
        try Loader.root.exec("import pyloader\nwith pyloader.context(pyloader.get('\(plug.name)')):\n    import usesreg")
        XCTAssertEqual(try value(try Loader.root, "pyloader.defining_loader(usesreg.colorsys).name", as: String.self), "root")
        // The same framework function called at call time under the context: the context loader.
        try Loader.root.exec("with pyloader.context(pyloader.get('\(plug.name)')):\n    late = usesreg.framework_reg.load('colorsys')")
        XCTAssertEqual(try value(try Loader.root, "pyloader.defining_loader(late).name", as: String.self), plug.name)
        try Loader.root.exec("del late")
    }

    /// mock.patch run by code of the root (as the shared unittest is under `pyloader
    /// test`) patches the context loader's module, and leaves the root's alone.
    func testMockPatchByTheParentsUnittestTargetsTheContextLoader() throws {
        let plug = try makeChild("plug")
        try plug.exec("import json")
        try Loader.root.exec("""
            import json, pyloader
            from unittest import mock
            def _patched_in(loader):
                with pyloader.context(loader):
                    with mock.patch('json.dumps', return_value='patched'):
                        return loader.eval("__import__('json').dumps([1])"), json.dumps([1])
            """)
        XCTAssertEqual(try value(try Loader.root, "_patched_in(pyloader.get('\(plug.name)'))", as: [String].self),
                       ["patched", "[1]"])
        XCTAssertEqual(try value(plug, "json.dumps([1])", as: String.self), "[1]")
    }

    /// Swift's `importModule` names its loader: the context does not apply.
    func testSwiftImportModuleNamesItsLoaderUnderAContext() throws {
        let base = try temporaryFolder()
        try write("\(base)/onlyinplug2.py", "")
        let plug = try makeChild("plug", paths: [base])
        let other = try makeChild("other")
        try plug.withContext {
            XCTAssertThrowsError(try other.importModule("onlyinplug2"))
            XCTAssertEqual(try value(other, "__import__('importlib').import_module('onlyinplug2').__name__", as: String.self),
                           "onlyinplug2")
        }
        XCTAssertFalse(try value(other, "'onlyinplug2' in __import__('sys').modules", as: Bool.self))
    }
}

/// C code that imports by name (`PyImport_Import`) from a function of another loader.
final class CImportTests: LoaderTestCase {
    /// `datetime.strptime` called by a function of the parent from the child: `_datetime`'s C
    /// code imports `_strptime` with PyImport_Import, which crossed to the parent through
    /// the frame's hook and then looked in the child's sys.modules: KeyError: '_strptime'
    /// (pyasn1's upstream suite). And `_strptime` is the root's for every loader, because
    /// 3.11's `_datetime` keeps the first one for the whole process.
    func testStrptimeCalledByAParentsFunctionWorksAndOutlivesTheChild() throws {
        let folder = try temporaryFolder()
        try write(folder + "/timeparse.py", "import datetime\ndef year(text):\n    return datetime.datetime.strptime(text, '%Y').year\n")
        let parent = try makeChild("strp-p", paths: [folder])
        for round in 0..<2 {
            let child = try makeChild("strp-c", of: parent)
            XCTAssertEqual(try value(child, "__import__('timeparse').year('20\(round)1')", as: Int.self), 2001 + 10 * round)
            try child.close()
        }
        XCTAssertEqual(try value(parent, "__import__('timeparse').year('1999')", as: Int.self), 1999)
        XCTAssertEqual(try value(parent, "__import__('pyloader').defining_loader(__import__('_strptime')).name", as: String.self),
                       "root")
    }
}
