import XCTest
import Dispatch
@testable import PyLoader

final class ContextLoaderTests: PluginTreeTestCase {
    func testContextLoaderServesLookupsByNameAndLeavesTheHostUntouched() throws {
        try host.exec("""
            import importlib, pyloader, sys
            alpha_loader = pyloader.get('\(alpha.name)')
            beta_loader = pyloader.get('\(beta.name)')
            with pyloader.context(beta_loader):
                greeting = importlib.import_module('greeting')
                inside = pyloader.context_loader().name
                with pyloader.context(alpha_loader):
                    nested = importlib.import_module('greeting')
                    nested_context = pyloader.context_loader().name
                formal = importlib.import_module('greeting.formal')
                after_nested = pyloader.context_loader().name
            outside = pyloader.context_loader().name
            """)
        XCTAssertEqual(try value(host, "greeting.__version__", as: String.self), "2.0")
        XCTAssertEqual(try value(host, "nested.__version__", as: String.self), "1.0")
        XCTAssertEqual(try value(host, "[inside, nested_context, after_nested, outside]", as: [String].self),
                       [beta.name, alpha.name, beta.name, host.name])
        XCTAssertTrue(try host.eval("formal").isIdentical(to: try beta.importModule("greeting.formal")))
        XCTAssertFalse(try host.eval("'greeting' in sys.modules").isTruthy())
        XCTAssertFalse(try host.eval("any(n.startswith('greeting') for n in sys.modules)").isTruthy())
        // With no context, the host cannot import greeting at all.
        XCTAssertThrowsError(try host.exec("import greeting as g2"))
    }

    func testContextIsThreadLocalAndSwiftHasTheSame() throws {
        try host.exec("import pyloader, threading\nseen = []")
        try beta.withContext {
            try host.exec("""
                greeting = __import__('importlib').import_module('greeting')
                t = threading.Thread(target=lambda: seen.append(pyloader.context_loader().name))
                t.start(); t.join()
                """)
        }
        XCTAssertEqual(try value(host, "greeting.__version__", as: String.self), "2.0")
        XCTAssertEqual(try value(host, "seen", as: [String].self), [host.name], "another thread saw this thread's context")
        XCTAssertEqual(try value(host, "pyloader.context_loader().name", as: String.self), host.name)
    }

    func testAContextLoaderCannotBeClosedWhileInUse() throws {
        let extra = try makeChild("ctx-extra", of: host)
        try extra.withContext {
            XCTAssertThrowsError(try extra.close()) { error in
                guard case LoaderError.busy = error else { return XCTFail("\(error)") }
            }
        }
        try extra.close()
    }
}

final class WhichTests: PluginTreeTestCase {
    func testWhichNamesTheDefiningLoaderWithoutImporting() throws {
        XCTAssertEqual(try alpha.which("greeting")?.name, alpha.name)
        XCTAssertEqual(try beta.which("greeting")?.name, beta.name)
        XCTAssertEqual(try alpha.which("hostapi")?.name, host.name)
        XCTAssertEqual(try alpha.which("hostapi.registry")?.name, host.name)
        XCTAssertEqual(try alpha.which("json")?.name, alpha.name)
        XCTAssertNil(try alpha.which("no_such_module_anywhere"))
        XCTAssertNil(try host.which("greeting"))
        XCTAssertFalse(try alpha.eval("'greeting' in __import__('sys').modules").isTruthy(), "which imported")
        XCTAssertEqual(try value(alpha, "__import__('pyloader').current().which('hostapi').name", as: String.self), host.name)
        XCTAssertEqual(try value(alpha, "__import__('pyloader').current().which('nope')", as: Int?.self), nil)
    }

    func testDefiningLoaderOfFunctionsAndClasses() throws {
        try alpha.exec("import alpha, pyloader, hostapi")
        XCTAssertEqual(try value(alpha, "pyloader.defining_loader(hostapi.Plugin).name", as: String.self), host.name)
        XCTAssertEqual(try value(alpha, "pyloader.defining_loader(type(alpha.plugin)).name", as: String.self), alpha.name)
        XCTAssertEqual(try value(alpha, "pyloader.defining_loader(hostapi.register).name", as: String.self), host.name)
        XCTAssertEqual(try value(alpha, "pyloader.defining_loader(alpha.plugin.greet).name", as: String.self), alpha.name)
    }
}

final class ConcurrentImportTests: LoaderTestCase {
    func testEightThreadsImportThroughThreeLevelsWithoutDuplicates() throws {
        let base = "\(fixtures)/delegation"
        let grand = try makeChild("cgrand", paths: ["\(base)/grandparent", "\(base)/pkg"])
        let parent = try makeChild("cpar", of: grand, paths: ["\(base)/parent", "\(base)/lazy"])
        let leaves = try (0..<3).map { try makeChild("cleaf\($0)", of: parent, paths: ["\(base)/child"],
                                                     delegation: $0 == 0 ? .childFirst : .parentFirst) }
        let names = ["common", "onlygrand", "parentonly", "childonly", "deep.sub.leaf", "lazyimp", "json", "decimal"]
        let errors = Lock()
        nonisolated(unsafe) var failures: [String] = []
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for step in 0..<names.count * 3 {
                let loader = leaves[(thread + step) % leaves.count]
                let name = names[(thread * 3 + step) % names.count]
                do {
                    _ = try loader.importModule(name)
                    if name == "lazyimp" { _ = try loader.eval("__import__('lazyimp').load_json()") }
                } catch {
                    errors.withLock { failures.append("\(loader.name) \(name): \(error)") }
                }
            }
        }
        XCTAssertEqual(failures, [])
        for leaf in leaves {
            for name in ["onlygrand", "deep.sub.leaf"] {
                XCTAssertTrue(try leaf.importModule(name).isIdentical(to: try grand.importModule(name)), "\(leaf.name) \(name)")
            }
            XCTAssertTrue(try leaf.importModule("parentonly").isIdentical(to: try parent.importModule("parentonly")))
            XCTAssertEqual(try leaf.which("childonly")?.name, leaf.name)
        }
        XCTAssertEqual(try value(leaves[0], "__import__('common').WHO", as: String.self), "child")
        XCTAssertEqual(try value(leaves[1], "__import__('common').WHO", as: String.self), "grandparent")
        XCTAssertTrue(try leaves[1].importModule("common").isIdentical(to: try leaves[2].importModule("common")))
    }
}

/// `pyloader.defining_loader` answers for every kind of object, as Java's `getClassLoader()`
/// does (issue 11): classes with no functions, classes made by `type(...)`, dataclasses,
/// instances, modules, functions, methods, properties, partials.
final class DefiningLoaderTests: PluginTreeTestCase {
    func testDefiningLoaderAnswersForEveryKind() throws {
        try alpha.exec("""
            import dataclasses, functools, pyloader, hostapi
            class P(hostapi.Plugin):
                pass
            class Empty:
                pass
            Made = type('Made', (), {})
            @dataclasses.dataclass
            class Point:
                x: int = 0
            class WithProperty:
                @property
                def value(self):
                    return 1
                def method(self):
                    return 2
            def make_local():
                class Local:
                    pass
                return Local
            Local = make_local()
            part = functools.partial(make_local)
            """)
        let kinds = ["P", "Empty", "Made", "Point", "Point()", "Empty()", "WithProperty.value",
                     "WithProperty().method", "WithProperty.method", "Local", "Local()", "part",
                     "make_local", "__import__('sys').modules['__main__']"]
        for kind in kinds {
            XCTAssertEqual(try value(alpha, "getattr(pyloader.defining_loader(\(kind)), 'name', None)", as: String?.self),
                           alpha.name, kind)
        }
        XCTAssertEqual(try value(alpha, "pyloader.defining_loader(hostapi.Plugin).name", as: String.self), host.name)
        XCTAssertEqual(try value(alpha, "pyloader.defining_loader(hostapi).name", as: String.self), host.name)
        // The same class object seen from the host: still alpha's.
        try host.exec("import pyloader\nalpha_p = pyloader.get('\(alpha.name)').eval('P')")
        XCTAssertEqual(try value(host, "pyloader.defining_loader(alpha_p).name", as: String.self), alpha.name)
        XCTAssertEqual(try value(host, "pyloader.defining_loader(alpha_p()).name", as: String.self), alpha.name)
        try host.exec("del alpha_p")
        // Built-in types have no defining loader.
        XCTAssertEqual(try value(alpha, "pyloader.defining_loader(int)", as: String?.self), nil)
        XCTAssertEqual(try value(alpha, "pyloader.defining_loader(3)", as: String?.self), nil)
    }
}
