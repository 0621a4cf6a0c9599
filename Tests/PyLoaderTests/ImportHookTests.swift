import XCTest
import Logging
@_spi(Measurement) @testable import PyLoader

/// Collects log lines in memory.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    private let lock = Lock()
    private var _lines: [String] = []
    var lines: [String] { lock.withLock { _lines } }
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        lock.withLock { _lines.append(event.message.description) }
    }
}

final class ImportHookTests: PluginTreeTestCase {
    func testEveryLoaderHasTheHookAsBuiltinsImport() throws {
        for loader in [try Loader.root, host!, alpha!] {
            XCTAssertEqual(try value(loader, "__import__('builtins').__import__.__name__", as: String.self), "__import__")
            XCTAssertTrue(try loader.eval("'PyLoader' in __import__('builtins').__import__.__doc__").isTruthy(), loader.name)
        }
    }

    func testWithoutTheHookALazyImportLandsInTheCallersInterpreter() throws {
        // The control case for Eby's hook: host's function imports lazily while
        // called from alpha. With the hook it lands in host; with CPython's own
        // __import__ in place, in alpha (the interpreter of the current thread state).
        try host.exec("def load():\n    import fractions\n    return fractions")
        try alpha.exec("import pyloader\nload = pyloader.get('\(host.name)').eval('load')")
        try host.setImportHookInstalled(false)
        _ = try alpha.eval("load()")
        try host.setImportHookInstalled(true)
        XCTAssertTrue(try alpha.eval("'fractions' in __import__('sys').modules").isTruthy(), "without the hook: the caller's")
        XCTAssertFalse(try host.eval("'fractions' in __import__('sys').modules").isTruthy())
        try alpha.exec("del __import__('sys').modules['fractions']")
        _ = try alpha.eval("load()")
        XCTAssertTrue(try host.eval("'fractions' in __import__('sys').modules").isTruthy(), "with the hook: the definer's")
        XCTAssertFalse(try alpha.eval("'fractions' in __import__('sys').modules").isTruthy())
    }

    func testHookOfAClosedLoaderRaisesImportErrorNamingIt() throws {
        let doomed = try makeChild("doomed")
        try doomed.exec("import builtins\nhook = builtins.__import__")
        let hook = try doomed.eval("hook")
        try alpha.exec("import pyloader\nhook = pyloader.get('\(doomed.name)').eval('hook')")
        _ = hook
        try doomed.close()
        XCTAssertThrowsError(try alpha.exec("hook('json')")) { error in
            guard let error = error as? PythonError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.typeName, "ImportError")
            XCTAssertTrue(error.message.contains("loader '\(doomed.name)' is closed"), error.message)
        }
    }

    func testHookAcceptsEveryCallingConvention() throws {
        try alpha.exec("""
            import builtins
            a = builtins.__import__('os.path', globals(), None, ['join'], 0)
            b = builtins.__import__(name='json', fromlist=(), level=0)
            try:
                builtins.__import__()
            except TypeError as e:
                missing = str(e)
            try:
                builtins.__import__('json', bogus=1)
            except TypeError as e:
                bogus = str(e)
            """)
        XCTAssertEqual(try value(alpha, "a.__name__", as: String.self), "posixpath")
        XCTAssertEqual(try value(alpha, "b.__name__", as: String.self), "json")
        XCTAssertTrue(try value(alpha, "missing", as: String.self).contains("'name'"))
        XCTAssertTrue(try value(alpha, "bogus", as: String.self).contains("bogus"))
    }

    func testImportTraceLogsOneLinePerResolution() throws {
        let handler = CapturingLogHandler()
        let saved = (ImportTrace.isEnabled, ImportTrace.logger)
        ImportTrace.logger = Logger(label: "test.trace") { _ in handler }
        ImportTrace.isEnabled = true
        defer { ImportTrace.isEnabled = saved.0; ImportTrace.logger = saved.1 }
        try alpha.exec("import hostapi, greeting")
        let lines = handler.lines
        XCTAssertTrue(lines.contains { $0.hasPrefix("[\(alpha.name)] import hostapi: delegated to '\(host.name)'")
                                       && $0.contains("hostapi/__init__.py") }, "\(lines)")
        XCTAssertTrue(lines.contains("[\(alpha.name)] import greeting: local"), "\(lines)")
    }
}
